import { thrownText } from '../errors/thrown-text.js'
import type { RouteEntry } from './list-routes.js'

/** One request {@link fuzzRoutes} asks the test to send. */
export interface FuzzRequest {
  readonly route: RouteEntry
  readonly method: string
  /** Path and query, already encoded (some on purpose badly: `%ED%A0%80`, `%zz`). */
  readonly url: string
  /** A JSON body for methods that carry one; `undefined` otherwise. */
  readonly body?: unknown
}

/** What the server answered. */
export interface FuzzAnswer {
  readonly status: number
  readonly body: string
}

/** A request the server answered with a 5xx (or that could not be sent at all). */
export interface FuzzFailure {
  readonly method: string
  readonly url: string
  /** The JSON body sent, cut to 200 characters. */
  readonly body?: string
  readonly status: number
  /** The start of the server's answer. */
  readonly answer: string
}

/** Options of {@link fuzzRoutes}. */
export interface FuzzRoutesOptions {
  /** The routes to walk, usually `listRoutes(server)`. */
  readonly routes: readonly RouteEntry[]
  /**
   * Sends one request and returns the answer: `server.inject`, `app.request` or `fetch`, with
   * whatever session, cookies and CSRF token the test keeps per route.
   */
  readonly send: (request: FuzzRequest) => Promise<FuzzAnswer>
  /**
   * Plausible body fields (`{ email: 'ada@example.com', productId: 1 }`): each one in turn
   * takes every hostile value while the others stay plausible, so a body passes the fields a
   * handler checks first and the hostile one reaches deeper.
   */
  readonly fields?: Readonly<Record<string, unknown>>
  /** Query parameters to fill with hostile values (default `q`, `after`, `limit`, `id`, `cursor`). */
  readonly queryNames?: readonly string[]
  /** More hostile values on top of the built-in ones (for example from fast-check's `sample`). */
  readonly extraValues?: readonly unknown[]
  /** How many routes are fuzzed at once (default 4); the requests of one route go in order. */
  readonly concurrency?: number
}

/** What {@link fuzzRoutes} did. */
export interface FuzzReport {
  readonly requests: number
  /** Answers of 500 or above. */
  readonly failures: readonly FuzzFailure[]
  /**
   * 422 answers with code `E_DATABASE_INPUT`: the database, not the route's own validation,
   * refused the value. No 5xx, but a sign that a schema lets something through (a NUL byte,
   * an id past the column's range) that it should refuse before the query.
   */
  readonly refusedByDatabase: readonly FuzzFailure[]
}

const LONG = 'x'.repeat(5_000)
const LONGER = 'é'.repeat(30_000)

// Text the engines and drivers choke on, or that parsers read as something else.
const HOSTILE_TEXT: readonly string[] = [
  '\u0000',
  'a\u0000b@example.com',
  '',
  LONG,
  LONGER,
  '\uD800',
  '💩',
  '\u202Eevil',
  'e\u0301',
  "'; drop table users; --",
  '%00',
]

// Numbers past every column's range, fractions, signs and spellings `Number()` accepts.
const HOSTILE_NUMBER_TEXT: readonly string[] = [
  '0',
  '-1',
  '1.5',
  '0x10',
  '1e3',
  '١٢٣',
  '2147483648',
  '-2147483649',
  '9223372036854775808',
  '99999999999999999999999',
  '1e309',
  'NaN',
]

const HOSTILE_JSON: readonly unknown[] = [
  0,
  -1,
  1.5,
  2_147_483_648,
  2 ** 53 + 2,
  1e308,
  null,
  true,
  [],
  {},
  { $gt: '' },
  { nested: { deeper: [1, { x: '\u0000' }] } },
]

// Percent-encodings that do not decode, or decode to invalid UTF-8, in a path or a query.
const RAW_ESCAPES: readonly string[] = ['%ED%A0%80', '%FF', '%C0%AF', '%', '%zz', '%E0%A4%A']

function encode(value: string): string | undefined {
  try {
    return encodeURIComponent(value)
  } catch {
    // A lone surrogate has no UTF-8 form; RAW_ESCAPES covers its bytes.
    return undefined
  }
}

function pathValues(extra: readonly unknown[]): string[] {
  const text = [...HOSTILE_TEXT, ...HOSTILE_NUMBER_TEXT, ...extra.map(String)]
  return [
    ...text.flatMap((value) => {
      const encoded = encode(value)
      return encoded === undefined || encoded === '' ? [] : [encoded]
    }),
    ...RAW_ESCAPES,
  ]
}

function withPathValue(path: string, value: string): string {
  return path.replace(/:[A-Za-z0-9_]+|\*/g, value)
}

function withQuery(path: string, names: readonly string[], value: string): string {
  return `${path}?${names.map((name) => `${name}=${value}`).join('&')}`
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
// Values no well-typed input takes as it is: a route that reads the input answers differently.
const QUERY_PROBES: readonly string[] = ['%00', encodeURIComponent(LONG)]
const BODY_PROBES: readonly unknown[] = [{ probe: [] }, '\u0000', LONG]

/**
 * Sends every route hostile input (NUL bytes, numbers past every integer range, negative,
 * fractional and hex ids, long strings, odd Unicode, malformed percent-encodings, values of
 * the wrong JSON type) in its path, its query and its JSON body, and reports each answer of
 * 500 or above, and each 422 `E_DATABASE_INPUT` (a value only the database refused). A server
 * that validates input before its queries answers neither. Every path parameter and whole body
 * gets every value; a query parameter or body field gets them all once a probe shows the route
 * reads it (its answer changes), so inputs a route ignores cost a few requests, not hundreds. Each route's requests go one at a time, in a fixed order, so a failure can be
 * replayed; a few routes run side by side.
 *
 * @example
 * ```ts
 * import { fuzzRoutes, listRoutes } from '@mortar/core/testing'
 *
 * const report = await fuzzRoutes({
 *   routes: listRoutes(server),
 *   fields: { email: 'ada@example.com', password: 'correct horse battery' },
 *   send: async ({ method, url, body }) => {
 *     const response = await server.inject({ method, url, payload: body })
 *     return { status: response.statusCode, body: response.body }
 *   },
 * })
 * expect(report.failures).toEqual([])
 * ```
 */
export async function fuzzRoutes(options: FuzzRoutesOptions): Promise<FuzzReport> {
  const extra = options.extraValues ?? []
  const paths = pathValues(extra)
  const names = options.queryNames ?? ['q', 'after', 'limit', 'id', 'cursor']
  const fields = options.fields ?? {}
  const bodyValues: unknown[] = [...HOSTILE_TEXT, ...HOSTILE_NUMBER_TEXT, ...HOSTILE_JSON, ...extra]
  const failures: FuzzFailure[] = []
  const refusedByDatabase: FuzzFailure[] = []
  let requests = 0

  /** Sends one request, records it when it fails, and returns the status it got. */
  const attempt = async (route: RouteEntry, url: string, body?: unknown): Promise<number> => {
    requests++
    const request: FuzzRequest =
      body === undefined
        ? { route, method: route.method, url }
        : { route, method: route.method, url, body }
    let answer: FuzzAnswer
    try {
      answer = await options.send(request)
    } catch (error) {
      answer = { status: 599, body: `request failed: ${thrownText(error)}` }
    }
    const refused = answer.status === 422 && answer.body.includes('"E_DATABASE_INPUT"')
    if (answer.status >= 500 || refused) {
      ;(refused ? refusedByDatabase : failures).push({
        method: route.method,
        url: url.length > 300 ? `${url.slice(0, 300)}…` : url,
        ...(body === undefined ? {} : { body: JSON.stringify(body)?.slice(0, 200) }),
        status: answer.status,
        answer: answer.body.slice(0, 300),
      })
    }
    return answer.status
  }

  // Whether the route reads an input: probes that change its answer from the baseline's
  // status. An input nothing reads is not worth every hostile value; one that is read gets all.
  const reads = async (baseline: number, probes: ReadonlyArray<() => Promise<number>>) => {
    for (const probe of probes) if ((await probe()) !== baseline) return true
    return false
  }

  const fuzzRoute = async (route: RouteEntry): Promise<void> => {
    const hasParameters = /:[A-Za-z0-9_]+|\*/.test(route.path)
    const plain = withPathValue(route.path, '1')
    if (hasParameters) {
      for (const value of paths) await attempt(route, withPathValue(route.path, value))
    }
    await attempt(route, `${plain}?${names.map((name) => `${name}=a&${name}=b`).join('&')}`)
    await attempt(route, `${plain}?${names.map((name) => `${name}[x]=1`).join('&')}`)
    // Each parameter the route reads alone (one checked first, a cursor, must not shield the
    // others), then all of them at once.
    const baseline = await attempt(route, plain)
    const read: string[] = []
    for (const name of names) {
      const probes = QUERY_PROBES.map(
        (value) => () => attempt(route, withQuery(plain, [name], value)),
      )
      if (await reads(baseline, probes)) read.push(name)
    }
    for (const name of read) {
      for (const value of paths) await attempt(route, withQuery(plain, [name], value))
    }
    if (read.length > 1) {
      for (const value of paths) await attempt(route, withQuery(plain, read, value))
    }
    if (!BODY_METHODS.has(route.method)) return
    for (const value of bodyValues) await attempt(route, plain, value)
    const plausible = await attempt(route, plain, fields)
    for (const field of Object.keys(fields)) {
      const probes = BODY_PROBES.map(
        (value) => () => attempt(route, plain, { ...fields, [field]: value }),
      )
      if (!(await reads(plausible, probes))) continue
      for (const value of bodyValues) await attempt(route, plain, { ...fields, [field]: value })
    }
  }

  // Routes run side by side, each one's requests in order: a route's session stays its own.
  const queue = [...options.routes]
  const lanes = Array.from({ length: Math.max(1, options.concurrency ?? 4) }, async () => {
    for (let route = queue.shift(); route !== undefined; route = queue.shift()) {
      await fuzzRoute(route)
    }
  })
  await Promise.all(lanes)
  return { requests, failures, refusedByDatabase }
}
