import type { EventBatch, EventSink, WriteOutcome } from '../sinks/event-sink.js'
import { isTransientDatabaseError } from '../sinks/sql/transient-error.js'
import type { Suppressions } from './suppressions.js'

/** Identities a write stored after they were forgotten, to erase from the sink again. */
export interface LateIdentities {
  readonly userIds: readonly string[]
  /** Anonymous ids whose events with no user the write stored. */
  readonly anonymousIds: readonly string[]
}

/**
 * `sink` (one of the app's own) with each write checked afterwards against the suppressions.
 * The tracker checks a batch before it is written, and nothing ties that check to a store of
 * the app's: a batch checked before a forget committed (by another process, a retry after
 * backoff, a `trackNow()`) and written after the sink's `forget` ran stored the forgotten
 * user's events there for good, after the forget job too. Checked after the write (reading the
 * suppression mark afresh), a forget that committed before the check is seen and `eraseLate`
 * records the erasure again; one that commits after it calls the sink's `forget` after the
 * write, which deletes it. What was stored late counts as skipped, not stored. A check or
 * record that fails fails the write, which is retried (the sink's write is idempotent); the
 * database being unreachable is transient whatever the sink's classifier says.
 */
export function checkedAfterWrite(
  sink: EventSink,
  suppressions: Suppressions,
  eraseLate: (late: LateIdentities) => Promise<void>,
): EventSink {
  const checked: EventSink = {
    async write(batch: EventBatch): Promise<WriteOutcome | undefined> {
      const outcome = (await sink.write(batch)) || undefined
      const entries = [...batch.events, ...batch.failed]
      const found = await suppressions.among(
        [
          ...entries.map((entry) => entry.userId ?? undefined),
          ...batch.links.map((link) => link.userId),
        ],
        entries.map((entry) =>
          entry.userId === null ? (entry.anonymousId ?? undefined) : undefined,
        ),
        { fresh: true },
      )
      if (found.users.size === 0 && found.anonymous.size === 0) return outcome
      await eraseLate({ userIds: [...found.users], anonymousIds: [...found.anonymous] })
      const late = (list: readonly { userId: string | null; anonymousId: string | null }[]) =>
        list.filter((entry) =>
          entry.userId === null
            ? entry.anonymousId !== null && found.anonymous.has(entry.anonymousId)
            : found.users.has(entry.userId),
        ).length
      // The sink may have left some of them out itself: counted once.
      return {
        suppressed: {
          events: Math.max(late(batch.events), outcome?.suppressed.events ?? 0),
          failed: Math.max(late(batch.failed), outcome?.suppressed.failed ?? 0),
        },
      }
    },
    isTransient: (error) => isTransientDatabaseError(error) || sink.isTransient?.(error) === true,
  }
  if (sink.prepare !== undefined) checked.prepare = (batch) => sink.prepare?.(batch)
  return checked
}
