import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config/config-error.js'
import { Secret } from '../config/secret.js'
import { createLogger } from './create-logger.js'
import { isSecretName } from './secret-fields.js'

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

  it('writes the message of a log call whose fields throw when read, and does not throw', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const getter = new Error('unread')
    Object.defineProperty(getter, 'message', {
      enumerable: true,
      get() {
        throw new Error('getter')
      },
    })
    const proxy = new Proxy(new Error('trapped'), {
      get() {
        throw new Error('trap')
      },
      ownKeys() {
        throw new Error('trap')
      },
    })
    for (const err of [getter, proxy]) {
      expect(() => logger.error({ err, job: 'a' }, 'job failed')).not.toThrow()
    }
    expect(out.lines()).toEqual([
      expect.objectContaining({ level: 50, msg: 'job failed' }),
      expect.objectContaining({ level: 50, msg: 'job failed' }),
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

  it('censors a secret field at any depth, in any case or spelling, however it reaches the line', () => {
    // pino's paths reach two levels and one spelling: a body's user.password, an error's
    // config.apiKey, a child's bindings or a raw Authorization header were written whole.
    let logged = ''
    const root = createLogger({ level: 'info', destination: { write: (line) => (logged = line) } })
    const names = [
      'password',
      'Password',
      'PASSWD',
      'SECRET',
      'api_key',
      'X-Api-Key',
      'Authorization',
      'access_token',
      'refreshToken',
      'Set-Cookie',
      'cvv',
      'card_number',
      // A name ending in a secret's word is one too: an app's own names are not all listed.
      'client_secret',
      'privateKey',
      'PRIVATE-KEY',
      'passphrase',
      'session_secret',
      'DB_PASSWORD',
      'aws_secret_access_key',
      'credentials',
      'cookies',
      'db_pwd',
      'csrfToken',
      // Any kind of key: an app's signing or encryption key has no secret word besides `key`.
      'signingKey',
      'hmac_key',
      'ENCRYPTION_KEY',
      'key',
      'keys',
    ]
    const ways: Record<string, (fields: Record<string, unknown>) => void> = {
      object: (fields) => root.info(fields, 'object'),
      error: (fields) => root.error({ err: Object.assign(new Error('failed'), fields) }),
      cause: (fields) =>
        root.error({
          err: new Error('outer', { cause: Object.assign(new Error('inner'), fields) }),
        }),
      child: (fields) => root.child(fields).info('child'),
    }
    const { json } = fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small', maxDepth: 3 },
        fc.string({ maxLength: 6 }),
        fc.integer(),
        fc.constant(null),
        fc.array(tie('json'), { maxLength: 2 }),
        fc.dictionary(fc.constantFrom('a', 'b', 'list'), tie('json'), { maxKeys: 2 }),
      ),
    }))
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.integer(), json),
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 }),
        fc.constantFrom(...Object.keys(ways)),
        (name, value, path, way) => {
          const secret = { [name]: { SECRETMARK: value } }
          const fields = path.reduceRight<Record<string, unknown>>(
            (inner, key) => ({ [key]: [inner] }),
            secret,
          )
          ways[way]?.({ before: 'x:1', ...fields, after: { tokenizer2: 'kept' } })
          expect(() => JSON.parse(logged)).not.toThrow()
          expect(logged, way).not.toContain('SECRETMARK')
          // pino writes an error's cause without its own fields: nothing to censor there.
          if (way === 'cause') return
          expect(logged, way).toContain(`${JSON.stringify(name)}:"[redacted]"`)
          expect(logged, way).toContain('"tokenizer2":"kept"')
        },
      ),
    )
  })

  it('keeps a field whose name holds a secret word but does not end in one', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const fields = {
      tokenCount: 12,
      secretary: 'Ada',
      passwordPolicy: 'strong',
      tokenizer: 'bpe',
      cookieConsent: true,
      apiKeyId: 'key_1',
      publicKey: 'ssh-ed25519 AAAA',
      keyId: 'k1',
      idempotencyKey: 'order-1',
      cacheKey: 'user:1',
      primaryKey: 'id',
    }
    logger.info(fields, 'kept')
    expect(out.lines()[0]).toMatchObject(fields)
  })

  it('censors a secret whose name goes on past its word: a number, a confirmation, a hash, an encoding', () => {
    // `password2`, `password_confirmation` (a form's second field) and `password_digest` (a
    // bcrypt hash, cracked offline) ended in no secret word: they were written as given.
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const names = [
      'password2',
      'password_confirmation',
      'passwordConfirm',
      'password_again',
      'passwordRepeat',
      'password_digest',
      'passwordHash',
      'hashed_password',
      'api_key_2',
      'secret_key_base',
      'privateKeyPem',
      'signing_key_hex',
      'clientSecretValue',
      'token_v2',
      'PASSWORD_OLD',
    ]
    for (const name of names) {
      logger.info({ [name]: 'SECRETMARK1' }, 'field')
      logger.info(`retrying with ${name}=SECRETMARK2`)
    }
    expect(out.text()).not.toContain('SECRETMARK')
    // Naming keys and counts stay what they were, qualified or not.
    const kept = { publicKeyPem: 'MII', idempotencyKeyHash: 'h', keyId2: 'k', tokenCount2: 3 }
    logger.info(kept, 'kept')
    expect(out.lines().at(-1)).toMatchObject(kept)
  })

  it('censors every kind of key but the few that name a thing, under any spelling', () => {
    // `signingKey`, `hmacKey` and `encryptionKey` hold no secret word but `key`: they were written.
    let logged = ''
    const logger = createLogger({
      level: 'info',
      destination: { write: (line) => (logged = line) },
    })
    const naming = ['public', 'primary', 'foreign', 'idempotency', 'cache', 'sort', 'partition']
    const spell = (word: string, way: number) =>
      [`${word}Key`, `${word}_key`, `${word.toUpperCase()}_KEY`, `${word}-Key`][way] as string
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z]{0,12}$/),
        fc.integer({ min: 0, max: 3 }),
        fc.stringMatching(/^[A-Za-z0-9+/=]{1,24}$/),
        (word, way, value) => {
          const name = word === '' ? 'key' : spell(word, way)
          logger.info({ [name]: `KEYMARK${value}` }, 'key')
          logger.info(`${name}=KEYMARK${value}`)
          if (naming.includes(word)) expect(logged).toContain('KEYMARK')
          else expect(logged).not.toContain('KEYMARK')
        },
      ),
    )
  })

  it('writes a number under a plural secret name, a count, and censors one under a singular', () => {
    // `inputTokens: 12` was censored: a collection of secrets is never one number, a secret may be.
    let logged = ''
    const logger = createLogger({
      level: 'info',
      destination: { write: (line) => (logged = line) },
    })
    fc.assert(
      fc.property(
        fc.constantFrom('token', 'key', 'password', 'secret', 'cookie', 'credential', 'cvv'),
        fc.constantFrom('', 'input', 'output_', 'MAX_', 'cached'),
        fc.oneof(
          fc.integer(),
          fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
        ),
        (word, prefix, count) => {
          const singular = `${prefix}${prefix.toUpperCase() === prefix && prefix !== '' ? word.toUpperCase() : word}`
          const plural = `${singular}${singular.toUpperCase() === singular ? 'S' : 's'}`
          logger.info({ [plural]: count, [singular]: count }, 'counted')
          const line = JSON.parse(logged) as Record<string, unknown>
          expect(line[plural]).toBe(count)
          expect(line[singular]).toBe('[redacted]')
          // A cookie written as text runs to the end of its line, whatever it is.
          if (word !== 'cookie') {
            logger.info(`${plural}=${count}, ${singular}=${count}`)
            expect(JSON.parse(logged).msg).toBe(`${plural}=${count}, ${singular}=[redacted]`)
          }
          logger.info({ [plural]: [`MARK${count}`] }, 'listed')
          expect(logged).not.toContain('MARK')
        },
      ),
    )
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

  it('censors the password of a URL inside an error and its cause, or a message', () => {
    // Before, a driver's error quoting its connection URL was logged whole by the HTTP adapters.
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const failure = new Error('Connection to postgres://admin:hunter2@db.internal/prod refused', {
      cause: new Error('redis://:s3cr3t-pass@cache:6379 timed out'),
    })
    logger.error({ err: failure }, 'Request failed')
    logger.warn('retrying mysql://app:p%40ss@word@db:3306/shop')
    logger.error(new Error('Connection to postgres://admin:hunter2@db.internal/prod refused'))
    logger.info('plain https://example.com:8443/path?x=1')
    logger.info('and https://user@example.com stay')
    const text = out.text()
    for (const secret of ['hunter2', 's3cr3t-pass', 'p%40ss', 'word@db'])
      expect(text).not.toContain(secret)
    expect(text).toContain('mysql://app:[redacted]@db:3306/shop')
    // Its message alone: the error's message above ends with its cause's, the redis URL, so the
    // password may run to that URL's '@' and is censored that far.
    expect(text).toContain(
      '"msg":"Connection to postgres://admin:[redacted]@db.internal/prod refused"',
    )
    expect(text).toContain('https://example.com:8443/path?x=1')
    expect(text).toContain('https://user@example.com')
  })

  it('censors any URL password in any error message', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    fc.assert(
      fc.property(
        fc.constantFrom('postgres', 'mysql', 'redis', 'https', 'smtp'),
        fc.stringMatching(/^[A-Za-z0-9._-]{0,12}$/).filter((user) => !isSecretName(user)),
        // Unencoded too: a base64 password holds '/', a pasted one '?', '#', ':' or '@'.
        fc.stringMatching(/^[A-Za-z0-9!$&'()*+,;=%@/?#:-]{6,24}$/),
        fc.string(),
        (scheme, user, password, around) => {
          const url = `${scheme}://${user}:${password}@host.internal:1/db`
          logger.error({ err: new Error(`${around} ${url} ${around}`) }, `at ${url}`)
          const logged = out.text().split('\n').at(-2) ?? ''
          expect(logged).not.toContain(`:${password}@`)
          // Censored whole, up to the host: no tail of it after a '/', '?', '#' or '@'.
          expect(logged).toContain(`at ${scheme}://${user}:[redacted]@host.internal:1/db"`)
        },
      ),
    )
  })

  it('censors a secret written as text (key=value, key: value, JSON in a string), however it reaches the line', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const spellings = [
      'password',
      'PASSWORD',
      'passwd',
      'secret',
      'token',
      'access_token',
      'refreshToken',
      'api_key',
      'apiKey',
      'X-Api-Key',
      'Authorization',
      'proxy-authorization',
      'cookie',
      'Set-Cookie',
      'credit_card',
      'cardNumber',
      'cvv',
      'client_secret',
      'privateKey',
      'PRIVATE-KEY',
      'passphrase',
      'SESSION_SECRET',
      'db_password',
      'AWS_SECRET_ACCESS_KEY',
      'credentials',
      'cookies',
      'DB_PWD',
    ]
    const forms = [
      (name: string, value: string) => `${name}=${value}`,
      (name: string, value: string) => `/cb?page=2&${name}=${value}&next=1`,
      (name: string, value: string) => `${name}: ${value}`,
      (name: string, value: string) => `${name}:${value},`,
      (name: string, value: string) => `${name}: "${value} with spaces"`,
      (name: string, value: string) => `${name}='${value}'`,
      (name: string, value: string) => `user[${name}]=${value}`,
      (name: string, value: string) => JSON.stringify({ user: 'ada', [name]: value }),
      (name: string, value: string) => JSON.stringify(JSON.stringify({ [name]: value })),
      (name: string, value: string) => `${name}: Bearer ${value}`,
    ]
    // Q marks the value: the text around it never holds one.
    const around = fc.stringMatching(/^[a-z .,;()-]{0,20}$/)
    fc.assert(
      fc.property(
        fc.constantFrom(...spellings),
        fc.constantFrom(...forms),
        fc.stringMatching(/^[A-Za-z0-9._~+/%!@#$^*(),;:{}=-]{0,24}$/),
        around,
        around,
        (name, form, tail, before, after) => {
          // A secret has a digit: a bare `password:` before a short word is prose (next test).
          const value = `Q7${tail}`
          const text = `${before} ${form(name, value)} ${after}`
          logger.info(text)
          logger.info({ note: text }, 'noted')
          logger.error({ err: new Error(text) }, 'failed')
          const logged = out.text().split('\n').slice(-4).join('\n')
          expect(logged).not.toContain(value)
          expect(logged).toContain('[redacted]')
        },
      ),
    )
  })

  it('censors a PEM private key whole, named or not, however it reaches the line', () => {
    // After `private_key: ` the value ended at the first space: the key's lines were written.
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    fc.assert(
      fc.property(
        fc.constantFrom('', 'RSA ', 'EC ', 'ENCRYPTED ', 'OPENSSH '),
        fc.array(fc.stringMatching(/^[A-Za-z0-9+/=]{1,64}$/), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('private_key: ', 'key=', 'loaded ', ''),
        fc.boolean(),
        (kind, lines, before, whole) => {
          const label = `${kind}PRIVATE KEY`
          const body = lines.map((line) => `KEYMARK${line}`).join('\n')
          const end = whole ? `\n-----END ${label}-----` : ''
          const text = `${before}-----BEGIN ${label}-----\n${body}${end} done`
          logger.info(text)
          logger.info({ note: JSON.stringify({ pem: text }) }, 'noted')
          logger.error({ err: new Error(text) }, 'failed')
          const logged = out.text().split('\n').slice(-4).join('\n')
          expect(logged).not.toContain('KEYMARK')
          // Cut short, the key runs to the end of its text.
          if (whole) expect(logged).toContain('done')
        },
      ),
    )
  })

  it('leaves text alone that holds no secret written as name=value or name: value', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const words = [
      'password',
      'Token',
      'secret',
      'api_key',
      'cookie',
      'reset',
      'your',
      'the',
      'in',
      '12',
    ]
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...words), { maxLength: 12 }),
        fc.array(fc.constantFrom(' ', ', ', '. ', '; ', ' - ', '\n', ' (', ') '), {
          maxLength: 12,
        }),
        fc.constantFrom('PASSWORD', 'API_KEY', 'token', 'Secret'),
        fc.stringMatching(/^[a-z]{1,15}$/),
        (chosen, gaps, label, word) => {
          const prose = chosen.map((w, i) => `${w}${gaps[i] ?? ' '}`).join('')
          // As a ConfigError lists a variable: `API_KEY: must be at least 32 characters`; the
          // word may be an authentication scheme's name (`token: basic auth failed`).
          const text = `${prose}${label}: ${word} be at least 32 characters; ${label}: basic auth`
          logger.info(text)
          expect(out.lines().at(-1)?.msg).toBe(text)
        },
      ),
    )
  })

  it('censors a URL password holding any character, however the URL reaches the line', () => {
    // Child bindings, format arguments and deep fields were written as given while the censor
    // ran on a log call's arguments; then a password holding a space or a quote ended its
    // pattern there, and the rest was written (`postgres://u:pa ss@db` kept 'pa ss'). The
    // password is marked at both ends, so a censor that starts late or stops early leaves a
    // mark in the line.
    let logged = ''
    const root = createLogger({ level: 'info', destination: { write: (line) => (logged = line) } })
    const call = (logger: typeof root, ...args: unknown[]) =>
      (logger.info as (...args: unknown[]) => void)(...args)
    const ways: Record<string, (logger: typeof root, url: string) => void> = {
      field: (logger, url) => logger.info({ url }, 'field'),
      deepField: (logger, url) => logger.info({ a: { b: { c: { d: { e: { f: [url] } } } } } }),
      key: (logger, url) => logger.info({ [url]: true }, 'key'),
      message: (logger, url) => logger.info(`message ${url}`),
      formatString: (logger, url) => call(logger, '%s', url),
      formatObject: (logger, url) => call(logger, '%o', { url }),
      formatObjectUpper: (logger, url) => call(logger, '%O', { a: [{ url }] }),
      formatJson: (logger, url) => call(logger, '%j', { url }),
      jsonInField: (logger, url) => logger.info({ body: JSON.stringify({ nested: { url } }) }),
      inspected: (logger, url) => logger.info(inspect({ url })),
      queryString: (logger, url) =>
        logger.info({ path: `/connect?to=${encodeURIComponent(url)}` }, 'query'),
      error: (logger, url) => logger.error({ err: new Error(`failed ${url}`) }, 'error'),
      errorFirst: (logger, url) => logger.error(new Error(`failed ${url}`)),
      errorField: (logger, url) =>
        logger.error({ err: Object.assign(new Error('failed'), { config: { url } }) }),
      errorCause: (logger, url) =>
        logger.error(
          { err: new Error('outer', { cause: new Error('middle', { cause: new Error(url) }) }) },
          'cause',
        ),
      aggregate: (logger, url) =>
        logger.error({ err: new AggregateError([new Error(url)], 'all failed') }),
      childBinding: (logger, url) => logger.child({ url }).info('child'),
      nestedChild: (logger, url) => logger.child({ a: 1 }).child({ b: { url } }).info('nested'),
    }
    fc.assert(
      fc.property(
        fc.constantFrom('postgres', 'mysql', 'redis', 'https', 'smtp'),
        // A user named as a secret (`key:…`) has its pair censored too, past the host.
        fc.stringMatching(/^[A-Za-z0-9._-]{0,12}$/).filter((user) => !isSecretName(user)),
        fc.string({ unit: 'binary', maxLength: 24 }),
        fc.constantFrom(...Object.keys(ways)),
        (scheme, user, middle, way) => {
          const url = `${scheme}://${user}:HEADMARK${middle}TAILMARK@host.internal:1/db`
          ways[way]?.(root, url)
          expect(() => JSON.parse(logged), way).not.toThrow()
          expect(logged, way).not.toMatch(/HEADMARK|TAILMARK/)
          expect(logged, way).toContain(
            way === 'queryString'
              ? `${scheme}%3A%2F%2F${user}%3A[redacted]%40host.internal`
              : `${scheme}://${user}:[redacted]@host.internal:1/db`,
          )
        },
      ),
      { numRuns: 500 },
    )
  })

  it('keeps every field of a logged object, __proto__ included, as data', () => {
    // A parsed request body may hold a `__proto__` field: copied by assignment (the URL
    // censor's copy, pino's redaction of wildcard paths) it became the copy's prototype and
    // vanished from the line. It must be written as it was, and set no prototype anywhere.
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    const line = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'err'])
    const key = fc
      .oneof(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'polluted'),
        fc.string({ maxLength: 8 }),
      )
      .filter((name) => !isSecretName(name) && name !== 'headers' && !line.has(name))
    const { json } = fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small', maxDepth: 3 },
        fc.string({ maxLength: 8 }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('json'), { maxLength: 3 }),
        fc
          .array(fc.tuple(key, tie('json')), { maxLength: 4 })
          .map((entries) => Object.fromEntries(entries)),
      ),
    }))
    const record = fc
      .array(fc.tuple(key, json), { minLength: 1, maxLength: 4 })
      .map((entries) => Object.fromEntries(entries) as Record<string, unknown>)
      .filter((value) => !JSON.stringify(value).includes('://'))
    fc.assert(
      fc.property(record, (body) => {
        const failure = Object.defineProperty(new Error('failed'), 'body', {
          value: body,
          enumerable: true,
        })
        logger.info(body, 'fields')
        logger.info({ body }, 'nested')
        logger.error({ err: failure }, 'error')
        const [fields = {}, nested = {}, error = {}] = out.lines().slice(-3)
        for (const name of ['level', 'time', 'pid', 'hostname', 'msg']) delete fields[name]
        expect(JSON.stringify(fields)).toBe(JSON.stringify(body))
        expect(JSON.stringify(nested.body)).toBe(JSON.stringify(body))
        expect(JSON.stringify((error.err as Record<string, unknown>).body)).toBe(
          JSON.stringify(body),
        )
        expect(Object.prototype).not.toHaveProperty('polluted')
      }),
    )
  })

  it('censors the password of a URL in a field of the logged object', () => {
    const out = capture()
    const logger = createLogger({ level: 'info', destination: out })
    logger.info(
      { databaseUrl: 'postgres://admin:hunter2@db/prod', nested: { urls: ['redis://:s3cret@r'] } },
      'connecting',
    )
    const text = out.text()
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('s3cret')
    expect(out.lines()[0]).toMatchObject({
      databaseUrl: 'postgres://admin:[redacted]@db/prod',
      nested: { urls: ['redis://:[redacted]@r'] },
    })
  })

  it('rejects an unknown LOG_LEVEL with a ConfigError', () => {
    expect(() => createLogger({ env: { LOG_LEVEL: 'verbose' } })).toThrow(ConfigError)
  })
})
