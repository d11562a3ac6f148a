import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { isMortarError } from '../errors/index.js'
import { ConfigError } from './config-error.js'
import { defineConfig, envVarName } from './define-config.js'
import { Secret, secret } from './secret.js'

function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('defineConfig', () => {
  it('maps camelCase keys to prefixed SNAKE_CASE variables', () => {
    const config = defineConfig(z.object({ databaseUrl: z.string(), apiV2Key: z.string() }), {
      prefix: 'SHOP_',
      env: { SHOP_DATABASE_URL: 'postgres://db', SHOP_API_V2_KEY: 'k', DATABASE_URL: 'wrong' },
    })
    expect(config).toEqual({ databaseUrl: 'postgres://db', apiV2Key: 'k' })
  })

  it('reads without a prefix when none is given', () => {
    const config = defineConfig(z.object({ logLevel: z.string() }), { env: { LOG_LEVEL: 'debug' } })
    expect(config.logLevel).toBe('debug')
  })

  it('converts strings for number, boolean, bigint, date and list schemas', () => {
    const config = defineConfig(
      z.object({
        port: z.number().int(),
        ratio: z.number(),
        debug: z.boolean(),
        pooled: z.boolean(),
        cache: z.boolean(),
        big: z.bigint(),
        since: z.date(),
        hosts: z.array(z.string()),
        weights: z.array(z.number()),
      }),
      {
        env: {
          PORT: ' 8080 ',
          RATIO: '0.5',
          DEBUG: 'true',
          POOLED: '0',
          CACHE: 'ON',
          BIG: '9007199254740993',
          SINCE: '2026-01-01T00:00:00Z',
          HOSTS: 'a.example, b.example',
          WEIGHTS: '1,2.5',
        },
      },
    )
    expect(config).toEqual({
      port: 8080,
      ratio: 0.5,
      debug: true,
      pooled: false,
      cache: true,
      big: 9007199254740993n,
      since: new Date('2026-01-01T00:00:00Z'),
      hosts: ['a.example', 'b.example'],
      weights: [1, 2.5],
    })
  })

  it('takes a number, bigint or date only in its one spelling, never a value it did not say', () => {
    // Number('0x1F') is 31, BigInt(' ') is 0n, new Date('2026-02-31') is 3 March and
    // new Date('1') the year 2001: each was taken as the setting's value.
    const read = (schema: z.ZodType, value: string): unknown =>
      (defineConfig(z.object({ value: schema }), { env: { VALUE: value } }) as { value: unknown })
        .value
    const refused = (schema: z.ZodType, value: string) =>
      expect(() => read(schema, value), JSON.stringify(value)).toThrow(ConfigError)
    for (const value of ['0x1F', '0b101', '0o17', '1_000', 'Infinity', '12px', '1,5'])
      refused(z.number(), value)
    for (const value of [' ', '0x10', '1e3', '1.0', '0b1']) refused(z.bigint(), value)
    for (const value of ['1', 'March 7', '2026-02-31', '2026-2-1', '2026-01-01T24:00Z'])
      refused(z.date(), value)
    // Read as ...992, and in the machine's own time zone: a value the variable did not say.
    // Spelled with a fraction or an exponent, the same whole number was read as ...992 all the same.
    for (const value of [
      '9007199254740993',
      '-9007199254740993',
      '12345678901234567890',
      '9007199254740993.0',
      '9.007199254740993e15',
      '90071992547409930e-1',
    ])
      refused(z.number(), value)
    // A fraction the double rounds to a whole number: read as ...498, 0 and 1, values not said.
    for (const value of ['4503599627370497.5', '1e-400', '0.99999999999999999'])
      refused(z.number(), value)
    expect(read(z.number(), '2.50e1')).toBe(25)
    expect(read(z.number(), '9007199254740991.0')).toBe(Number.MAX_SAFE_INTEGER)
    for (const value of ['2026-03-29T02:30', '2026-01-01T09:30:00', '2026-01-01 09:30'])
      refused(z.date(), value)
    expect(read(z.number(), '9007199254740991')).toBe(Number.MAX_SAFE_INTEGER)
    expect(read(z.date(), '2026-01-01T09:30+01:00')).toEqual(new Date('2026-01-01T08:30:00Z'))

    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 12 }), fc.double().map(String), fc.integer().map(String)),
        (text) => {
          let value: number | undefined
          try {
            value = read(z.number(), text) as number
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError)
            return
          }
          expect(text.trim()).toMatch(/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i)
          expect(value).toBe(Number(text.trim()))
          // A whole number is taken only as it was written.
          if (/^[+-]?\d+$/.test(text.trim())) expect(BigInt(value)).toBe(BigInt(text.trim()))
        },
      ),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1970, max: 2100 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.boolean(),
        (year, month, day, withTime) => {
          const pad = (n: number) => String(n).padStart(2, '0')
          const text = `${year}-${pad(month)}-${pad(day)}${withTime ? 'T10:30:00Z' : ''}`
          const exists = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day
          if (!exists) {
            refused(z.date(), text)
            return
          }
          const date = read(z.date(), text) as Date
          expect([date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()]).toEqual([
            year,
            month,
            day,
          ])
        },
      ),
    )
  })

  it('applies defaults for unset or empty variables', () => {
    const config = defineConfig(
      z.object({ port: z.number().default(3000), host: z.string().default('0.0.0.0') }),
      { env: { HOST: '' } },
    )
    expect(config).toEqual({ port: 3000, host: '0.0.0.0' })
  })

  it('reads nested objects through double underscores', () => {
    const schema = z.object({
      database: z.object({ url: z.string(), poolSize: z.number() }),
      cache: z.object({ ttlSeconds: z.number() }).optional(),
    })
    const config = defineConfig(schema, {
      prefix: 'APP_',
      env: { APP_DATABASE__URL: 'sqlite::memory:', APP_DATABASE__POOL_SIZE: '4' },
    })
    expect(config).toEqual({ database: { url: 'sqlite::memory:', poolSize: 4 } })

    const error = configError(() => defineConfig(schema, { prefix: 'APP_', env: {} }))
    expect(error.issues.map((issue) => `${issue.envVar}: ${issue.reason}`)).toEqual([
      'APP_DATABASE__URL: missing',
      'APP_DATABASE__POOL_SIZE: missing',
    ])
  })

  it('returns a frozen object', () => {
    const config = defineConfig(z.object({ mail: z.object({ from: z.string() }) }), {
      env: { MAIL__FROM: 'shop@example.com' },
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.mail)).toBe(true)
  })

  it('wraps secret values so they print as [secret] and reveal on demand', () => {
    const config = defineConfig(z.object({ sessionSecret: secret(z.string().min(8)) }), {
      env: { SESSION_SECRET: 'hunter2-hunter2' },
    })
    expect(config.sessionSecret).toBeInstanceOf(Secret)
    expect(config.sessionSecret.reveal()).toBe('hunter2-hunter2')
    expect(JSON.stringify(config)).toBe('{"sessionSecret":"[secret]"}')
  })

  it('lists every missing, mistyped and too short value in one ConfigError', () => {
    const value = 'short-but-visible'
    const error = configError(() =>
      defineConfig(
        z.object({
          port: z.number(),
          debug: z.boolean(),
          sessionSecret: secret(z.string().min(32)),
          apiToken: secret(z.string()),
          databaseUrl: z.string(),
        }),
        {
          prefix: 'SHOP_',
          env: { SHOP_PORT: 'eighty', SHOP_DEBUG: 'maybe', SHOP_SESSION_SECRET: value },
        },
      ),
    )
    expect(isMortarError(error)).toBe(true)
    expect(error.code).toBe('E_CONFIG')
    expect(error.status).toBe(500)
    expect(error.issues).toEqual([
      { envVar: 'SHOP_PORT', path: 'port', reason: 'expected a number', secret: false },
      {
        envVar: 'SHOP_DEBUG',
        path: 'debug',
        reason: 'expected a boolean (true, false, 1, 0, yes, no, on, off)',
        secret: false,
      },
      {
        envVar: 'SHOP_SESSION_SECRET',
        path: 'sessionSecret',
        reason: 'must be at least 32 characters',
        secret: true,
      },
      { envVar: 'SHOP_API_TOKEN', path: 'apiToken', reason: 'missing', secret: true },
      { envVar: 'SHOP_DATABASE_URL', path: 'databaseUrl', reason: 'missing', secret: false },
    ])
    expect(error.message).toContain('SHOP_PORT: expected a number')
    expect(error.message).toContain('SHOP_SESSION_SECRET: must be at least 32 characters')
    expect(error.message).toContain('SHOP_API_TOKEN: missing')
    expect(error.message).not.toContain(value)
    expect(error.message).not.toContain('eighty')
    expect(JSON.stringify(error.issues)).not.toContain(value)
    expect(inspect(error)).not.toContain(value)
  })

  it('hides custom check messages and allowed values for secrets, keeps them for others', () => {
    const error = configError(() =>
      defineConfig(
        z.object({
          region: z.enum(['eu', 'us']),
          mode: z.string().refine((v) => v.startsWith('m-'), { message: 'must start with m-' }),
          key: secret(
            z.string().refine((v) => v.startsWith('sk_'), { error: (i) => `bad ${i.input}` }),
          ),
        }),
        { env: { REGION: 'mars', MODE: 'x', KEY: 'pk_leaky_value' } },
      ),
    )
    expect(error.issues.map((issue) => `${issue.envVar}: ${issue.reason}`)).toEqual([
      'REGION: must be one of: eu, us',
      'MODE: must start with m-',
      'KEY: is invalid',
    ])
    expect(error.message).not.toContain('pk_leaky_value')
  })

  it('explains limits and formats in words', () => {
    const error = configError(() =>
      defineConfig(
        z.object({
          workers: z.number().int(),
          retries: z.number().positive(),
          name: z.string().min(1).max(3),
          homepage: z.url(),
          apiKey: secret(z.string().startsWith('sk_')),
        }),
        {
          env: {
            WORKERS: '1.5',
            RETRIES: '0',
            NAME: 'toolong',
            HOMEPAGE: 'nope',
            API_KEY: 'pk_live_1',
          },
        },
      ),
    )
    expect(error.issues.map((issue) => `${issue.envVar}: ${issue.reason}`)).toEqual([
      'WORKERS: expected an integer',
      'RETRIES: must be greater than 0',
      'NAME: must be at most 3 characters',
      'HOMEPAGE: must be a valid URL',
      'API_KEY: must start with "sk_"',
    ])
    expect(error.message).not.toContain('pk_live_1')
  })

  it('names the list item that failed', () => {
    const error = configError(() =>
      defineConfig(z.object({ ports: z.array(z.number()) }), { env: { PORTS: '80,http' } }),
    )
    expect(error.issues[0]).toMatchObject({ envVar: 'PORTS', reason: 'at 1: expected a number' })
  })

  it('never shows a random secret value in the error', () => {
    fc.assert(
      fc.property(
        // Marked with a character no stack frame holds: an unmarked value ('property', 'run')
        // could occur in the stack's file and function names by chance.
        fc.string({ minLength: 7, maxLength: 30 }).map((s) => `\u2603${s}`),
        fc.constantFrom('', 'not-a-number'),
        (value, port) => {
          const error = configError(() =>
            defineConfig(
              z.object({ port: z.number(), secretKey: secret(z.string().min(32).regex(/^\w+$/)) }),
              { prefix: 'APP_', env: { APP_SECRET_KEY: value, APP_PORT: port } },
            ),
          )
          const output = [
            error.message,
            JSON.stringify(error.issues),
            inspect(error),
            String(error.stack),
          ]
          for (const text of output) expect(text).not.toContain(value)
          expect(error.issues.some((issue) => issue.envVar === 'APP_SECRET_KEY')).toBe(true)
        },
      ),
    )
  })
})

describe('defineConfig with a secret inside another schema', () => {
  const leaked = 'pk_LEAKED_VALUE'
  // A check whose message quotes the value it saw, as an app's own message might.
  const quoting = () =>
    secret(
      z.string().refine((v) => v.startsWith('sk_'), { error: (i) => `bad ${String(i.input)}` }),
    )
  const wrappings: Readonly<Record<string, () => z.ZodType>> = {
    optional: () => quoting().optional(),
    nullable: () => quoting().nullable(),
    nullish: () => quoting().nullish(),
    default: () => quoting().default(new Secret('sk_default')),
    prefault: () => quoting().prefault('sk_default'),
    catch: () => quoting().catch(new Secret('sk_default')),
    readonly: () => quoting().readonly(),
    nonoptional: () => quoting().optional().nonoptional(),
    describe: () => quoting().describe('the API key'),
    meta: () => quoting().meta({ description: 'the API key' }),
    brand: () => quoting().brand<'ApiKey'>(),
    refine: () => quoting().refine((key) => key.reveal().length > 3),
    superRefine: () => quoting().superRefine(() => undefined),
    check: () => quoting().check(z.refine(() => true)),
    transform: () => quoting().transform((key) => key),
    'pipe into': () => z.string().trim().pipe(quoting()),
    preprocess: () => z.preprocess((value) => value, quoting()),
    union: () => z.union([quoting(), z.literal('none')]),
    or: () => quoting().or(z.literal('none')),
    intersection: () => z.intersection(quoting(), z.string()),
    array: () => z.array(quoting()),
    tuple: () => z.tuple([quoting()]),
    lazy: () => z.lazy(() => quoting()),
    'optional, described, optional': () => quoting().optional().describe('key').optional(),
  }

  // `catch` never fails; a tuple is not read from one variable; a Secret and a string never intersect.
  const failing = Object.entries(wrappings).filter(([name]) => name !== 'catch')
  const reading = Object.entries(wrappings).filter(
    ([name]) => !['tuple', 'intersection'].includes(name),
  )

  it.each(failing)('keeps %s(secret()) a secret in errors', (_, schema) => {
    const error = configError(() =>
      defineConfig(z.object({ apiKey: schema() }), { env: { API_KEY: leaked } }),
    )
    expect(error.issues.length).toBeGreaterThan(0)
    for (const issue of error.issues) expect(issue.secret).toBe(true)
    for (const text of [error.message, JSON.stringify(error.issues), inspect(error)]) {
      expect(text).not.toContain(leaked)
    }
  })

  it.each(reading)('keeps %s(secret()) a secret once read', (_, schema) => {
    const value = `sk_${leaked}`
    const config = defineConfig(z.object({ apiKey: schema() }), { env: { API_KEY: value } })
    expect(JSON.stringify(config)).not.toContain(value)
    expect(inspect(config, { depth: 5 })).not.toContain(value)
  })

  it('hides the message of a group or whole-config check that saw a failed secret in clear', () => {
    const quote = { error: (i: { input: unknown }) => `saw ${JSON.stringify(i.input)}` }
    const always = { ...quote, when: () => true }
    const error = configError(() =>
      defineConfig(
        z
          .object({
            db: z
              .object({ password: secret(z.string().min(40)), user: z.string() })
              .refine(() => false, always),
            mode: z.string().refine((v) => v.startsWith('m-'), { message: 'must start with m-' }),
          })
          .refine(() => false, always)
          .check((ctx) => {
            ctx.issues.push({
              code: 'custom',
              message: `raw ${JSON.stringify(ctx.value)}`,
              input: ctx.value,
            })
          }),
        { env: { DB__PASSWORD: leaked, DB__USER: 'app', MODE: 'x' } },
      ),
    )
    expect(error.message).not.toContain(leaked)
    expect(error.issues.map((issue) => `${issue.envVar}: ${issue.reason}`)).toEqual([
      'DB__PASSWORD: must be at least 40 characters',
      'DB__*: is invalid',
      'MODE: must start with m-',
      ': is invalid',
      ': is invalid',
    ])
  })
})

describe('envVarName', () => {
  it('splits camelCase words and acronyms', () => {
    expect(envVarName('sessionSecret')).toBe('SESSION_SECRET')
    expect(envVarName('HTTPPort')).toBe('HTTP_PORT')
    expect(envVarName('smtp-host')).toBe('SMTP_HOST')
  })
})
