import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { createApp } from '../app/create-app.js'
import { runCli } from '../cli/run-cli.js'
import { testEngines } from '../testing/test-databases.js'
import { ConfigError } from './config-error.js'
import { defineConfig } from './define-config.js'
import { envValue, isDevelopment } from './environment.js'
import { secret } from './secret.js'

describe('isDevelopment', () => {
  it('is true for NODE_ENV development or test only; unset, empty or anything else is production', () => {
    expect(isDevelopment({ NODE_ENV: 'development' })).toBe(true)
    expect(isDevelopment({ NODE_ENV: 'test' })).toBe(true)
    for (const NODE_ENV of [undefined, '', 'production', 'staging', 'Development', 'dev']) {
      expect(isDevelopment({ NODE_ENV })).toBe(false)
    }
  })
})

// What String.prototype.trim() removes: spaces, tabs, line ends, no-break and other Unicode spaces.
const blank = fc.string({
  unit: fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2028', '\u3000', '\ufeff'),
  minLength: 1,
  maxLength: 8,
})

describe('a variable holding only whitespace', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('is unset to envValue, which keeps any other value as written', () => {
    fc.assert(
      fc.property(blank, fc.string(), (space, text) => {
        expect(envValue({ NAME: space }, 'NAME')).toBeUndefined()
        expect(envValue({ NAME: `${space}x${text}` }, 'NAME')).toBe(`${space}x${text}`)
      }),
    )
  })

  it('is missing to defineConfig when required, and takes the default when there is one', () => {
    fc.assert(
      fc.property(blank, (space) => {
        let error: unknown
        try {
          defineConfig(z.object({ apiKey: secret(z.string()) }), { env: { API_KEY: space } })
        } catch (thrown) {
          error = thrown
        }
        expect(error).toBeInstanceOf(ConfigError)
        expect((error as ConfigError).issues).toEqual([
          { envVar: 'API_KEY', path: 'apiKey', reason: 'missing', secret: true },
        ])
        const schema = z.object({ host: z.string().default('0.0.0.0') })
        expect(defineConfig(schema, { env: { HOST: space } })).toEqual({ host: '0.0.0.0' })
      }),
    )
  })

  it('is unset as DATABASE_URL and MORTAR_WORKERS: the app starts without a database, workers on', async () => {
    vi.stubEnv('DATABASE_URL', ' \t')
    vi.stubEnv('MORTAR_WORKERS', ' ')
    const app = createApp({ modules: [] })
    await app.start()
    await app.stop()
  })

  it('is unset as MORTAR_APP, and as a test engine URL (skipped with its notice)', async () => {
    const out: string[] = []
    const err: string[] = []
    const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) }
    expect(await runCli(['help'], { ...io, env: { MORTAR_APP: '  ' } })).toBe(0)
    expect(err).toEqual([])
    vi.stubEnv('MORTAR_TEST_POSTGRES_URL', ' ')
    vi.stubEnv('MORTAR_TEST_MYSQL_URL', '\n')
    expect(testEngines().map((engine) => engine.skip)).toEqual([
      undefined,
      'MORTAR_TEST_POSTGRES_URL is unset',
      'MORTAR_TEST_MYSQL_URL is unset',
    ])
  })
})
