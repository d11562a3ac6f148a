import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonWithoutUrlPasswords, withoutUrlPasswords } from './url-passwords.js'

// Any character at all, lone surrogates and control characters included.
const anything = fc.string({ unit: 'binary', maxLength: 24 })
// A user holds anything but what ends one in every URL parser: a raw '/', '?', '#' or ':'.
const user = anything.filter((text) => !/[/?#:]/.test(text))
const scheme = fc.constantFrom('postgres:', 'mysql:', 'redis:', 'https:', 'jdbc:postgresql:', '')
const host = fc.stringMatching(/^[a-z0-9.-]{1,12}(:[0-9]{1,5})?(\/[a-z0-9]{0,8})?$/)
// Text around a URL: anything without a second URL or another '@' in it (an '@' further on
// moves the password's end there, which is tested apart).
const around = anything.filter((text) => !/[/:@%\\]/.test(text) && !text.includes('//'))

describe('withoutUrlPasswords', () => {
  it('censors the whole password of a URL, whatever characters the password and user hold', () => {
    fc.assert(
      fc.property(
        around,
        scheme,
        user,
        anything,
        host,
        around,
        (before, s, u, password, h, after) => {
          const text = `${before}${s}//${u}:${password}@${h}${after}`
          expect(withoutUrlPasswords(text)).toBe(`${before}${s}//${u}:[redacted]@${h}${after}`)
        },
      ),
    )
  })

  it('censors a percent-encoded URL, as in a query string', () => {
    fc.assert(
      fc.property(scheme, user, anything, host, (s, u, password, h) => {
        // encodeURIComponent refuses a lone surrogate: such a URL is never percent-encoded.
        const encode = (text: string) =>
          encodeURIComponent(text.replace(/[\ud800-\udfff]/g, (half) => `u${half.charCodeAt(0)}`))
        const text = `/connect?to=${encode(`${s}//${u}:${password}@${h}`)}&x=1`
        expect(withoutUrlPasswords(text)).toBe(
          `/connect?to=${encode(`${s}//${u}:`)}[redacted]${encode(`@${h}`)}&x=1`,
        )
      }),
    )
  })

  it('censors past a later @ rather than leave a possible part of the password', () => {
    // 'p@ss word' or 'p': both are passwords the text may hold.
    expect(withoutUrlPasswords('at redis://u:p@ss word@cache:6379 for a@b.example')).toBe(
      'at redis://u:[redacted]@b.example',
    )
  })

  it('censors a URL written with escaped slashes, colons or at signs', () => {
    for (const [text, censored] of [
      [
        '{"db":"postgres:\\/\\/admin:hunter2@db\\/prod"}',
        '{"db":"postgres:\\/\\/admin:[redacted]@db\\/prod"}',
      ],
      ['postgres://admin:hunter2\\u0040db/prod', 'postgres://admin:[redacted]\\u0040db/prod'],
      [
        'postgres:\\x2f\\x2fadmin\\x3ahunter2\\x40db',
        'postgres:\\x2f\\x2fadmin\\x3a[redacted]\\x40db',
      ],
      [
        'postgres://admin\\\\\\u003Ahunter2\\\\\\u0040db',
        'postgres://admin\\\\\\u003A[redacted]\\\\\\u0040db',
      ],
      ['HTTP:///admin:hunter2@db', 'HTTP:///admin:[redacted]@db'],
    ]) {
      expect(withoutUrlPasswords(text as string)).toBe(censored)
    }
  })

  it('leaves text without credentials as it is', () => {
    for (const text of [
      'https://example.com:8443/path?x=1',
      'https://user@example.com/a:b',
      'mail a@b.example, see https://example.com/x?y=a:b#c:d',
      'Error: x\n    at f (file:///C:/app/x.js:1:2)\n    at g (file:///C:/app/node_modules/@mortar/core/dist/y.js:3:4)',
      'Error: x\n    at f (file:///app/x.js:1:2)\n    at g (/app/node_modules/@mortar/core/dist/y.js:3:4)',
      'ratio 3:2 for a@b',
    ]) {
      expect(withoutUrlPasswords(text)).toBe(text)
    }
    fc.assert(
      fc.property(anything, (text) => {
        fc.pre(!/\/|%2f|u002f|x2f/i.test(text))
        expect(withoutUrlPasswords(text)).toBe(text)
      }),
    )
  })
})

describe('jsonWithoutUrlPasswords', () => {
  it('censors the URL in its own string of a JSON line and keeps the line the same JSON', () => {
    // Other strings of the line, with '@' and ':' but no URL: they neither end the password
    // nor change.
    const plain = fc
      .oneof(anything, fc.constant('a@b.example'), fc.constant('x:y@z'))
      .filter((text) => !/\/|%2f|u002f|x2f/i.test(text))
    fc.assert(
      fc.property(
        scheme,
        user,
        anything,
        host,
        fc.array(fc.tuple(plain, plain), { maxLength: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        (s, u, password, h, fields, depth, asKey) => {
          let value = `${s}//${u}:${password}@${h}`
          let expected = `${s}//${u}:[redacted]@${h}`
          // A URL in JSON in a message (pino's %o), itself in JSON...
          for (let level = 0; level < depth; level++) {
            value = JSON.stringify({ url: value })
            expected = JSON.stringify({ url: expected })
          }
          const record = (url: string) =>
            Object.fromEntries([
              ...fields.slice(0, 1),
              asKey ? [url, 'value'] : ['url', url],
              ...fields.slice(1),
            ])
          const written = jsonWithoutUrlPasswords(`${JSON.stringify(record(value))}\n`)
          expect(written.endsWith('\n')).toBe(true)
          expect(JSON.parse(written)).toEqual(record(expected))
        },
      ),
    )
  })
})
