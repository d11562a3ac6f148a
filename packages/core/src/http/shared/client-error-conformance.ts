// What every adapter's server answers to requests Node's HTTP parser refuses, written once and
// run by adapterConformance against each adapter's server, over raw sockets.
import { connect } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

/** What the suite reads of the running conformance server. */
export interface ClientErrorSubject {
  /** The server's base URL. */
  url(): string
  /** How many requests reached the app's own code (its middleware, before every route). */
  handlerRuns(): number
}

// What came back on a connection that sent `bytes` and then ended its side.
interface RawAnswer {
  readonly text: string
}

function exchange(url: string, bytes: Uint8Array): Promise<RawAnswer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(Number(port), hostname, () => socket.end(bytes))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A reset after the answer was read is the server closing a connection it gave up on.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error)
    })
    socket.on('close', () => resolve({ text: Buffer.concat(chunks).toString('latin1') }))
  })
}

interface ParsedAnswer {
  readonly status: number
  readonly headers: ReadonlyMap<string, string>
  readonly body: string
}

// One HTTP/1.1 response, whole: its status line, headers and exactly content-length bytes.
function parseAnswer(text: string): ParsedAnswer {
  const end = text.indexOf('\r\n\r\n')
  expect(end, text).toBeGreaterThan(0)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const status = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(statusLine ?? '')
  expect(status, statusLine).not.toBeNull()
  const headers = new Map<string, string>()
  for (const line of lines) {
    const colon = line.indexOf(':')
    expect(colon, line).toBeGreaterThan(0)
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
  }
  const body = text.slice(end + 4)
  expect(Buffer.byteLength(body, 'latin1')).toBe(Number(headers.get('content-length')))
  return { status: Number(status?.[1]), headers, body }
}

// The answer is the problem every Mortar error is, on a connection the server closes.
function expectProblemAnswer(answer: RawAnswer, status: number, code: string): void {
  const parsed = parseAnswer(answer.text)
  expect(parsed.status).toBe(status)
  expect(parsed.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  expect(parsed.headers.get('connection')).toBe('close')
  const problem = JSON.parse(parsed.body) as Record<string, unknown>
  expect(problem).toMatchObject({ type: 'about:blank', status, code })
  expect(typeof problem.title).toBe('string')
  expect(typeof problem.detail).toBe('string')
  expect(problem.requestId).toBe(parsed.headers.get('x-request-id'))
}

const latin1 = (text: string) => Buffer.from(text, 'latin1')
const HEAD = 'Host: localhost\r\n'
const JSON_CHUNKED = `${HEAD}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n`

// Each request, the status and code it must get. The last ones pass their head, then fail in the
// body framing before any of the body: the parser has handed the request over by then, and no
// handler may run for it.
const MALFORMED: readonly (readonly [string, string, number, string])[] = [
  ['an unknown method', `BREW /hello HTTP/1.1\r\n${HEAD}\r\n`, 400, 'E_BAD_REQUEST'],
  [
    'a space in a header name',
    `GET /hello HTTP/1.1\r\n${HEAD}Bad Name: x\r\n\r\n`,
    400,
    'E_BAD_REQUEST',
  ],
  [
    'a control byte in a header value',
    `GET /hello HTTP/1.1\r\n${HEAD}X-A: a\x01b\r\n\r\n`,
    400,
    'E_BAD_REQUEST',
  ],
  [
    'a NUL in a header value',
    `GET /hello HTTP/1.1\r\n${HEAD}X-A: a\x00b\r\n\r\n`,
    400,
    'E_BAD_REQUEST',
  ],
  [
    'a folded header line',
    `GET /hello HTTP/1.1\r\n${HEAD}X-A: a\r\n b\r\n\r\n`,
    400,
    'E_BAD_REQUEST',
  ],
  ['bare LF line ends', 'GET /hello HTTP/1.1\nHost: localhost\n\n', 400, 'E_BAD_REQUEST'],
  ['a space in the target', `GET /hel lo HTTP/1.1\r\n${HEAD}\r\n`, 400, 'E_BAD_REQUEST'],
  ['an unknown HTTP version', `GET /hello HTTP/9.9\r\n${HEAD}\r\n`, 400, 'E_BAD_REQUEST'],
  ['a TLS hello', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 400, 'E_BAD_REQUEST'],
  ['a head cut short', `GET /hello HTTP/1.1\r\n${HEAD}X-A: b`, 400, 'E_BAD_REQUEST'],
  [
    'headers past the limit',
    `GET /hello HTTP/1.1\r\n${HEAD}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    431,
    'E_HTTP_431',
  ],
  [
    'a target past the limit',
    `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${HEAD}\r\n`,
    431,
    'E_HTTP_431',
  ],
  [
    'both content-length and transfer-encoding',
    `POST /echo HTTP/1.1\r\n${JSON_CHUNKED}Content-Length: 2\r\n\r\n0\r\n\r\n`,
    400,
    'E_BAD_REQUEST',
  ],
  [
    'two different content-lengths',
    `POST /echo HTTP/1.1\r\n${HEAD}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x`,
    400,
    'E_BAD_REQUEST',
  ],
  [
    'a malformed chunk size',
    `POST /echo HTTP/1.1\r\n${JSON_CHUNKED}\r\nZZ\r\n{}\r\n0\r\n\r\n`,
    400,
    'E_BAD_REQUEST',
  ],
  [
    'a transfer-encoding that does not end in chunked',
    `POST /echo HTTP/1.1\r\n${HEAD}Content-Type: application/json\r\nTransfer-Encoding: identity\r\n\r\n{}`,
    400,
    'E_BAD_REQUEST',
  ],
]

// A well-formed request, for the check that the server still serves after each refusal.
const GOOD = latin1(`GET /hello HTTP/1.1\r\n${HEAD}Connection: close\r\n\r\n`)

async function expectServing(url: string): Promise<void> {
  const answer = parseAnswer((await exchange(url, GOOD)).text)
  expect(answer.status).toBe(200)
  expect(JSON.parse(answer.body)).toEqual({ hello: 'world' })
}

// Bytes no request line can start with (a control byte, a separator), then anything.
const garbage = fc
  .tuple(
    fc.constantFrom(0x00, 0x01, 0x16, 0x1b, 0x20, 0x22, 0x28, 0x7f, 0x80, 0xff),
    fc.uint8Array({ maxLength: 200 }),
  )
  .map(([first, rest]) => Uint8Array.from([first, ...rest]))

// A header line with a byte no header name or value takes (a control byte, a space or separator
// in the name, a missing colon), among well-formed ones.
const badHeaderLine = fc.oneof(
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z-]{1,12}$/),
      fc.constantFrom('\x00', '\x01', '\x7f', '\x0b', '\x0c'),
      fc.string({ maxLength: 20 }),
    )
    .map(([name, bad, value]) => `${name}: ${value.replace(/[\r\n]/g, '')}${bad}x`),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z]{1,8}$/), fc.constantFrom(' ', '(', '"', '@', '\x01'))
    .map(([name, bad]) => `${name}${bad}${name}: value`),
  fc.stringMatching(/^[A-Za-z]{1,20}$/),
)
const goodHeaderLine = fc
  .tuple(fc.stringMatching(/^X-[A-Za-z]{1,8}$/), fc.stringMatching(/^[ -~]{0,20}$/))
  .map(([name, value]) => `${name}: ${value.trim()}`)

/** Registers the parser-error cases for the conformance server of one adapter. */
export function clientErrorConformance(subject: ClientErrorSubject): void {
  describe('requests the HTTP parser refuses', () => {
    it.each(MALFORMED)(
      'answers %s with a problem and runs no handler',
      async (_name, raw, status, code) => {
        const before = subject.handlerRuns()
        expectProblemAnswer(await exchange(subject.url(), latin1(raw)), status, code)
        expect(subject.handlerRuns()).toBe(before)
        await expectServing(subject.url())
      },
    )

    // A body's bytes reach the handler as they come, so it may have started on one whose framing
    // fails later: what it reads then fails, and the client gets the parser's problem.
    it('answers a body whose framing fails after some of it arrived with a problem', async () => {
      const raw = `POST /echo HTTP/1.1\r\n${JSON_CHUNKED}\r\n1\r\n{}\r\n0\r\n\r\n`
      expectProblemAnswer(await exchange(subject.url(), latin1(raw)), 400, 'E_BAD_REQUEST')
      await expectServing(subject.url())
    })

    it('answers random bytes with a problem or a close, never runs a handler, and serves on', async () => {
      const before = subject.handlerRuns()
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            garbage,
            fc
              .tuple(
                fc.array(goodHeaderLine, { maxLength: 3 }),
                badHeaderLine,
                fc.array(goodHeaderLine, { maxLength: 3 }),
              )
              .map(([above, bad, below]) =>
                latin1(
                  `GET /hello HTTP/1.1\r\n${HEAD}${[...above, bad, ...below].join('\r\n')}\r\n\r\n`,
                ),
              ),
          ),
          async (bytes) => {
            const answer = await exchange(subject.url(), bytes)
            if (answer.text !== '') expectProblemAnswer(answer, 400, 'E_BAD_REQUEST')
            expect(subject.handlerRuns()).toBe(before)
          },
        ),
        { numRuns: 60 },
      )
      await expectServing(subject.url())
    })
  })
}
