import { spawn } from 'node:child_process'
import { createApp, DATABASE } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { defineEvents } from '../catalog/define-events.js'
import { analyticsModule } from './analytics-module.js'

const child = new URL('./sigterm.child.ts', import.meta.url).pathname
const register = new URL('../../../../scripts/run-ts/register.mjs', import.meta.url).pathname

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`SIGTERM with a full buffer, ${engine.title}`, () => {
    it('writes all 10,000 buffered events before the process exits', async () => {
      const database = await privateDatabaseUrl(engine)
      const app = createApp({
        database: database.url,
        // The child's modules, so its tables and the jobs' (for its schedules) exist.
        modules: [analyticsModule({ events: defineEvents({}) })],
        jobs: { workers: false },
      })
      try {
        await app.migrate()
        const process_ = spawn(process.execPath, ['--import', register, child, database.url], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stderr = ''
        process_.stderr.on('data', (chunk) => {
          stderr += chunk
        })
        const ready = await new Promise<string>((resolve, reject) => {
          let stdout = ''
          process_.stdout.on('data', (chunk) => {
            stdout += chunk
            if (stdout.includes('\n')) resolve(stdout.split('\n')[0] as string)
          })
          process_.once('exit', (code) =>
            reject(new Error(`child exited early (${code}): ${stderr}`)),
          )
        })
        expect(JSON.parse(ready)).toEqual({ buffered: 10_000, stored: 0 })
        const exited = new Promise<number | null>((resolve) => process_.once('exit', resolve))
        process_.kill('SIGTERM')
        expect(await exited).toBe(0)
        await app.start()
        const { count } = await app
          .resolve(DATABASE)
          .kysely.selectFrom('mortar_analytics_event' as never)
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .executeTakeFirstOrThrow()
        expect(Number(count)).toBe(10_000)
      } finally {
        await app.stop()
        await database.drop()
      }
    }, 120_000)
  })
}
