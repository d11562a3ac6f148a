import { randomInt } from 'node:crypto'

/** How long to wait before a failed job's next attempt: exponential, with full jitter. */
export interface BackoffOptions {
  /** The ceiling of the first retry's wait, in ms (default 1,000); it doubles each attempt. */
  readonly baseMs?: number
  /** The largest wait, in ms (default 3,600,000: one hour; at most 86,400,000: a day). */
  readonly maxMs?: number
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 1_000, maxMs: 3_600_000 }

/**
 * The wait before the attempt after `attempt` (1-based) failed: a uniformly random duration
 * between 0 and `min(maxMs, baseMs × 2^(attempt − 1))` ("full jitter"), so workers that failed
 * together do not retry together.
 */
export function backoffDelay(attempt: number, backoff: Required<BackoffOptions>): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt - 1, 40))
  // randomInt's bound is exclusive and must stay under 2^48.
  return ceiling < 1 ? 0 : randomInt(Math.min(Math.floor(ceiling), 2 ** 47) + 1)
}
