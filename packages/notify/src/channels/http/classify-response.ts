import type { ChannelResult } from '../channel.js'
import type { HttpPostResult } from './http-post.js'

/**
 * Maps an HTTP outcome to a channel result, as the built-in HTTP channels do: 2xx accepted; 408,
 * 429 and 503 refusals (the message was not taken); 5xx may have been processed (transient);
 * other 4xx will never work (permanent); a redirect answered without a place to go is transient
 * unless it is a 307 or 308 (the others, 303 above all, may follow work done: a fallback
 * provider would send it twice); a refused address is permanent; no connection at all is
 * `not-accepted`, a failure after connecting is transient.
 */
export function classifyHttpResult(
  result: HttpPostResult,
  options: {
    /**
     * Now on the app's clock (core's `CLOCK`, which a channel resolves in `open`): a
     * `Retry-After` given as a date is measured from it, as the retry is scheduled on it.
     */
    readonly nowMs: number
    /** The result of a 2xx answer; `accepted` without a provider message id by default. */
    readonly accepted?: (status: number, body: string) => ChannelResult
  },
): ChannelResult {
  if (result.kind === 'refused') return { status: 'permanent', reason: result.reason }
  if (result.kind === 'failed') {
    return result.connected
      ? { status: 'transient', reason: `${result.code}: ${result.reason}` }
      : { status: 'not-accepted', reason: `${result.code}: ${result.reason}` }
  }
  const { status, body } = result
  const detail = `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`
  if (status >= 200 && status < 300)
    return options.accepted?.(status, body) ?? { status: 'accepted' }
  if (status === 408 || status === 429 || status === 503) {
    const retryAfterMs = retryAfter(result.headers['retry-after'], options.nowMs)
    return retryAfterMs === undefined
      ? { status: 'not-accepted', reason: detail }
      : { status: 'not-accepted', reason: detail, retryAfterMs }
  }
  if (status >= 500 || (status >= 300 && status < 400 && status !== 307 && status !== 308))
    return { status: 'transient', reason: detail }
  return { status: 'permanent', reason: detail }
}

function retryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}
