import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config/config-error.js'
import { Secret } from '../config/secret.js'
import { createLogger } from './create-logger.js'

function capture(): {
  lines: () => Record<string, unknown>[]
  text: () => string
  write: (line: string) => void
} {
  const chunks: string[] = []
  return {
    write: (line) => void chunks.push(line),
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
  }
}

describe('createLogger', () => {
  it('writes JSON lines with the name, message and fields', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', name: 'shop', destination: out })
    logger.info({ orderId: 'o1' }, 'order placed')
    logger.debug('not written at info')
    expect(out.lines()).toEqual([
      expect.objectContaining({ level: 30, name: 'shop', orderId: 'o1', msg: 'order placed' }),
    ])
  })

  it('censors passwords, tokens, cookies and authorization headers by default', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    logger.info(
      {
        password: 'pw-top-level',
        user: { email: 'a@example.com', password: 'pw-nested' },
        token: 'tok-value',
        cookie: 'sid=cookie-value',
        'set-cookie': 'sid=set-cookie-value',
        headers: {
          authorization: 'Bearer auth-value',
          cookie: 'sid=header-cookie',
          accept: 'text/html',
        },
        req: { headers: { authorization: 'Basic req-auth', 'set-cookie': 'sid=req-set-cookie' } },
      },
      'request',
    )
    const text = out.text()
    for (const leaked of [
      'pw-top-level',
      'pw-nested',
      'tok-value',
      'cookie-value',
      'set-cookie-value',
      'auth-value',
      'header-cookie',
      'req-auth',
      'req-set-cookie',
    ]) {
      expect(text).not.toContain(leaked)
    }
    const [line] = out.lines()
    expect(line).toMatchObject({
      password: '[redacted]',
      user: { email: 'a@example.com', password: '[redacted]' },
      headers: { authorization: '[redacted]', accept: 'text/html' },
    })
  })

  it('censors extra paths given in options', () => {
    const out = capture()
    createLogger({ level: 'info', destination: out, redact: ['payment.iban'] }).info(
      { payment: { iban: 'DE89370400440532013000', amount: 5 } },
      'paid',
    )
    expect(out.text()).not.toContain('DE89370400440532013000')
    expect(out.lines()[0]).toMatchObject({ payment: { iban: '[redacted]', amount: 5 } })
  })

  it('writes Secret values as [secret], in fields, child bindings and messages', () => {
    const out = capture()
    const value = new Secret('very-secret-value')
    const logger = createLogger({ level: 'info', destination: out }).child({ key: value })
    logger.info({ config: { databaseKey: value } }, `using ${value}`)
    expect(out.text()).not.toContain('very-secret-value')
    expect(out.lines()[0]).toMatchObject({ key: '[secret]', config: { databaseKey: '[secret]' } })
  })

  it('is silent under tests unless LOG_LEVEL says otherwise', () => {
    const quiet = capture()
    createLogger({ destination: quiet, env: { NODE_ENV: 'test' } }).error('hidden')
    createLogger({ destination: quiet, env: { VITEST: 'true' } }).error('hidden')
    expect(quiet.text()).toBe('')

    const loud = capture()
    createLogger({ destination: loud, env: { VITEST: 'true', LOG_LEVEL: 'debug' } }).debug('shown')
    createLogger({ destination: loud, env: {} }).info('shown at info')
    createLogger({ destination: loud, env: {} }).debug('hidden at info')
    expect(loud.lines().map((line) => line.msg)).toEqual(['shown', 'shown at info'])
  })

  it('rejects an unknown LOG_LEVEL with a ConfigError', () => {
    expect(() => createLogger({ env: { LOG_LEVEL: 'verbose' } })).toThrow(ConfigError)
  })
})
