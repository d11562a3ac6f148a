import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import type { AddressGuard } from './address-guard.js'

/** A DNS lookup with the signature of `dns.lookup` (tests pass their own). */
export type Lookup = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void

/** Options of {@link httpPost}. */
export interface HttpPostOptions {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly signal: AbortSignal
  /** Abort the request after this many ms, its redirects included. */
  readonly timeoutMs: number
  /** Refuses private and loopback addresses, after DNS resolution and on every redirect. */
  readonly guard?: AddressGuard | undefined
  readonly lookup?: Lookup | undefined
  /**
   * Redirects followed (each re-checked by the guard), only within the URL's origin (scheme, host
   * and port): the body and headers are posted again, so one to another origin is refused. 0 by
   * default.
   */
  readonly maxRedirects?: number | undefined
  /**
   * Agents to reuse connections through; a one-off connection without them, never through the
   * global agent (which an environment proxy may take over, bypassing the guard).
   */
  readonly agents?: { readonly http: http.Agent; readonly https: https.Agent } | undefined
}

/**
 * The outcome of a POST:
 * - `response`: the server answered (status, headers, the first 16 KiB of the body: no more is
 *   read, whatever follows); once the status is in, a body cut off or still coming when the
 *   time runs out is taken as read so far;
 * - `refused`: the guard refused the address or the URL (never connected), or a redirect not
 *   followed whose every hop said the request was not acted on (307, 308);
 * - `failed`: no answer; `connected` says whether the request may have reached the server
 *   (a refused connection or a DNS failure did not; a timeout or reset after connecting may).
 */
export type HttpPostResult =
  | {
      readonly kind: 'response'
      readonly status: number
      readonly headers: http.IncomingHttpHeaders
      readonly body: string
    }
  | { readonly kind: 'refused'; readonly reason: string }
  | {
      readonly kind: 'failed'
      readonly connected: boolean
      readonly code: string
      readonly reason: string
    }

const BODY_LIMIT = 16 * 1024
const REDIRECTS = new Set([301, 302, 303, 307, 308])

/**
 * POSTs a body with `node:http`, the address checked by the guard at connection time (after
 * DNS resolution, so a name that resolves to 127.0.0.1 is refused, and no second lookup can
 * swap the address), and reports every outcome as a value.
 */
export async function httpPost(options: HttpPostOptions): Promise<HttpPostResult> {
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    return { kind: 'refused', reason: 'the URL is not valid' }
  }
  // One bound for the whole request: each hop of a redirect gets what is left of it, not its own.
  const timeout = new AbortController()
  const timer = setTimeout(() => timeout.abort(), options.timeoutMs)
  try {
    return await follow(url, options, timeout.signal)
  } finally {
    clearTimeout(timer)
  }
}

async function follow(
  first: URL,
  options: HttpPostOptions,
  timeout: AbortSignal,
): Promise<HttpPostResult> {
  let url = first
  // Whether a server answered with a redirect that may follow work done: a 307 or 308 says the
  // request was not acted on (repeat it there); a 301, 302 and above all a 303 ("done, see
  // there") may have been. From then on no outcome may say the message was never taken.
  let mayHaveActed = false
  for (let redirects = 0; ; redirects++) {
    const result = await postOnce(url, options, timeout)
    if (
      mayHaveActed &&
      (result.kind === 'refused' || (result.kind === 'failed' && !result.connected))
    )
      return unfollowed(
        true,
        result.kind === 'refused' ? result.reason : `${result.code}: ${result.reason}`,
      )
    if (result.kind !== 'response' || !REDIRECTS.has(result.status)) return result
    mayHaveActed ||= result.status !== 307 && result.status !== 308
    const location = result.headers.location
    if (location === undefined) return result
    if (redirects >= (options.maxRedirects ?? 0)) {
      return unfollowed(
        mayHaveActed,
        `redirected (${result.status}) more than ${options.maxRedirects ?? 0} times`,
      )
    }
    let next: URL
    try {
      next = new URL(location, url)
    } catch {
      return unfollowed(mayHaveActed, `redirected (${result.status}) to an invalid URL`)
    }
    // The body and headers (a signature, credentials) were meant for this origin alone: another
    // could replay a signed request to the real endpoint, or keep an Authorization header. An
    // https URL's redirect to http is another origin too: nothing sent over TLS goes on in clear.
    if (next.origin !== first.origin) {
      return unfollowed(
        mayHaveActed,
        `redirected (${result.status}) to another origin (${next.protocol}//${next.host}); only redirects within ${first.origin} are followed`,
      )
    }
    url = next
  }
}

/**
 * A redirect not followed: `refused` (never taken, so a fallback provider may send it) only when
 * every redirect said the request was not acted on; otherwise a failure after connecting, as a
 * timeout is, retried and never handed to another provider, which would send it twice.
 */
function unfollowed(mayHaveActed: boolean, reason: string): HttpPostResult {
  return mayHaveActed
    ? { kind: 'failed', connected: true, code: 'E_REDIRECT', reason }
    : { kind: 'refused', reason }
}

function postOnce(
  url: URL,
  options: HttpPostOptions,
  timeout: AbortSignal,
): Promise<HttpPostResult> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.resolve({
      kind: 'refused',
      reason: `the URL scheme ${url.protocol} is not http(s)`,
    })
  }
  if (url.username !== '' || url.password !== '') {
    return Promise.resolve({ kind: 'refused', reason: 'the URL carries credentials' })
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const guard = options.guard
  // Node connects to a literal IP without calling `lookup`: check it here.
  if (guard !== undefined && isIP(host) !== 0) {
    const refusal = guard.refusal(host)
    if (refusal !== undefined) {
      return Promise.resolve({ kind: 'refused', reason: `the address ${host} is ${refusal}` })
    }
  }
  return new Promise((resolve) => {
    let connected = false
    let refusedReason: string | undefined
    let settled = false
    const finish = (result: HttpPostResult) => {
      if (settled) return
      settled = true
      timeout.removeEventListener('abort', onTimeout)
      options.signal.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const resolver = options.lookup ?? (dnsLookup as unknown as Lookup)
    const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
      resolver(
        hostname,
        { all: true, family: lookupOptions.family as number | undefined },
        (error, addresses) => {
          if (error) return callback(error, '', 0)
          const first = addresses[0]
          if (first === undefined)
            return callback(
              Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }),
              '',
              0,
            )
          if (guard !== undefined) {
            for (const { address } of addresses) {
              const refusal = guard.refusal(address)
              if (refusal !== undefined) {
                refusedReason = `${hostname} resolves to ${address}, which is ${refusal}`
                return callback(
                  Object.assign(new Error(refusedReason), { code: 'E_ADDRESS_REFUSED' }),
                  '',
                  0,
                )
              }
            }
          }
          if ((lookupOptions as { all?: boolean }).all) {
            return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
          }
          callback(null, first.address, first.family)
        },
      )
    }
    const secure = url.protocol === 'https:'
    const request = (secure ? https : http).request(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body) },
      lookup,
      // Never the global agent: NODE_USE_ENV_PROXY routes it through a proxy, which connects to
      // the name itself, so `lookup` (and the guard in it) would never run.
      agent:
        options.agents === undefined ? false : secure ? options.agents.https : options.agents.http,
    })
    const onTimeout = () =>
      request.destroy(
        Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      )
    timeout.addEventListener('abort', onTimeout, { once: true })
    const onAbort = () =>
      request.destroy(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }))
    options.signal.addEventListener('abort', onAbort, { once: true })
    if (options.signal.aborted) onAbort()
    else if (timeout.aborted) onTimeout()
    request.on('socket', (socket) => {
      // A pooled socket is already connected: whatever fails now may have reached the server.
      // (No listener on it then: one per reused request would pile up on the socket.)
      if (!socket.connecting) connected = true
      else
        socket.once(secure ? 'secureConnect' : 'connect', () => {
          connected = true
        })
    })
    // Set once the status line is in: from then on the server has answered, and the status says
    // what it did with the request (a 200 is a message posted). A body cut off or stalled past
    // the timeout gives what was read of it: a failure there is no transient failure to send
    // again (a chat message posted twice).
    let answer: (() => void) | undefined
    request.on('response', (response) => {
      const chunks: Buffer[] = []
      let size = 0
      const answered = () =>
        finish({
          kind: 'response',
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8').slice(0, BODY_LIMIT),
        })
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        // The answer is in once the limit is read: reading on (a body that never ends) would
        // turn a 2xx into a timeout, a transient failure sent again.
        if (size >= BODY_LIMIT) {
          answered()
          response.destroy()
        }
      })
      answer = answered
      response.on('end', answered)
      response.on('error', answered)
      response.on('close', answered)
    })
    request.on('error', (error) => {
      if (refusedReason !== undefined) return finish({ kind: 'refused', reason: refusedReason })
      if (answer !== undefined) return answer()
      finish({ kind: 'failed', connected, code: codeOf(error), reason: error.message })
    })
    request.end(options.body)
  })
}

function codeOf(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code
  return typeof code === 'string' ? code : 'EUNKNOWN'
}
