import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApp } from '../app/create-app.js'
import { startEngineApp } from './start-engine-app.js'

// The private SQLite database's own directory (privateDatabaseUrl nests the file one level down).
const directoryOf = (url: string) => dirname(dirname(url.slice('sqlite:'.length)))

describe('startEngineApp', () => {
  it('hands back a started app, and dispose() stops it and drops its database', async () => {
    let url = ''
    const { app, dispose } = await startEngineApp({ engine: 'sqlite' }, (databaseUrl) => {
      url = databaseUrl
      return createApp({ database: databaseUrl, modules: [] })
    })
    expect(app.state).toBe('started')
    expect(existsSync(directoryOf(url))).toBe(true)
    await dispose()
    expect(app.state).toBe('stopped')
    expect(existsSync(directoryOf(url))).toBe(false)
  })

  it('drops the database when the app cannot be made', async () => {
    let url = ''
    await expect(
      startEngineApp({ engine: 'sqlite' }, (databaseUrl) => {
        url = databaseUrl
        throw new Error('no such module')
      }),
    ).rejects.toThrow('no such module')
    expect(url).not.toBe('')
    expect(existsSync(directoryOf(url))).toBe(false)
  })
})
