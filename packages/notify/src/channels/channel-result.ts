import { thrownText } from '@mortar/core'
import type { ChannelResult } from './channel.js'

/**
 * What a send resolved that is no {@link ChannelResult} (`undefined`, a status no one knows, a
 * failure without its reason): nothing says whether the provider took the message. It is
 * never retried on its own nor handed to a fallback provider, either of which may send it a
 * second time: the delivery is dead with this reason, for an admin to replay once checked.
 */
export interface AmbiguousResult {
  readonly status: 'ambiguous'
  readonly reason: string
}

/** A send's outcome as the ledger reads it. */
export type SendOutcome = ChannelResult | AmbiguousResult

const STATUSES: ReadonlySet<unknown> = new Set([
  'accepted',
  'transient',
  'permanent',
  'not-accepted',
])

// The ambiguous outcomes this reader made: a fallback channel hands its provider's on as its
// own, and they keep the reason naming that provider. Any other value with this status is the
// channel's own, and as unknown a status as any. On globalThis so the ESM and CJS builds share
// it: a fallback channel of one build hands its outcomes on to the ledger of the other.
const MADE = Symbol.for('mortar.notify.ambiguousResults')
const store = globalThis as unknown as Record<symbol, WeakSet<AmbiguousResult> | undefined>
store[MADE] ??= new WeakSet<AmbiguousResult>()
const made = store[MADE]

/**
 * `value`, what a send on the channel `channel` (through its `provider`, named as `'provider 2
 * of 3'`, for a fallback channel) resolved, as a {@link SendOutcome}: itself when
 * it is a {@link ChannelResult} (a status of the four, a failure's reason as text, an accepted
 * one's `providerMessageId` text when given), else ambiguous, with a reason naming the channel
 * and what it resolved. Its optional hints stay as they are read elsewhere: a `retryAfterMs`
 * that is no delay asks no wait, a `sentTo` that is no list of addresses is ignored.
 */
export function readChannelResult(value: unknown, channel: string, provider?: string): SendOutcome {
  if (isAmbiguous(value)) return value
  const problem = resultProblem(value)
  if (problem === undefined) return value as ChannelResult
  const outcome: AmbiguousResult = {
    status: 'ambiguous',
    reason: `channel '${channel}'${provider === undefined ? '' : ` (${provider})`} resolved ${problem}, not a result (accepted, transient, permanent, not-accepted): it may have gone out, so it is not retried nor sent through another provider; replay it once checked`,
  }
  made.add(outcome)
  return outcome
}

/** True for an ambiguous outcome {@link readChannelResult} made. */
export function isAmbiguous(value: unknown): value is AmbiguousResult {
  return typeof value === 'object' && value !== null && made.has(value as AmbiguousResult)
}

/** What is wrong with `value` as a {@link ChannelResult}, described; `undefined` when nothing. */
function resultProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return String(value)
  if (Array.isArray(value)) return 'an array'
  if (typeof value !== 'object') return `a ${typeof value}`
  const { status, reason, providerMessageId } = value as Record<string, unknown>
  if (!STATUSES.has(status)) {
    return typeof status === 'string'
      ? `status ${JSON.stringify(status.slice(0, 40))}`
      : `an object without a status as text`
  }
  if (status === 'accepted') {
    return providerMessageId === undefined || typeof providerMessageId === 'string'
      ? undefined
      : `'accepted' with a providerMessageId that is not text`
  }
  return typeof reason === 'string' ? undefined : `'${status}' without a reason as text`
}

/**
 * The result of a send on `channel` (through its `provider`, for a fallback channel) that threw
 * or rejected instead of resolving a result: nothing says whether the provider took the message,
 * so it is transient (retried, never handed to a fallback provider), named by who threw.
 */
export function thrownResult(
  error: unknown,
  channel: string,
  how: 'threw' | 'rejected its send',
  provider?: string,
): Extract<ChannelResult, { status: 'transient' }> {
  return {
    status: 'transient',
    reason: `channel '${channel}'${provider === undefined ? '' : ` (${provider})`} ${how} instead of resolving a result: ${thrownText(error)} (it may have gone out)`,
  }
}
