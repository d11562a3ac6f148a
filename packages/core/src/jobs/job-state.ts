import type { AttemptError, JobState } from './queue-adapter.js'

/** The state of a stored job, from the columns every engine keeps. */
export function jobState(
  row: {
    readonly deadAtMs: number | null
    readonly worker: string | null
    readonly runAtMs: number
  },
  nowMs: number,
): JobState {
  if (row.deadAtMs !== null) return 'dead'
  if (row.worker !== null) return row.runAtMs > nowMs ? 'running' : 'stalled'
  return row.runAtMs > nowMs ? 'scheduled' : 'pending'
}

/** Attempt errors stored one JSON object per line (appending needs no read). */
export function parseErrors(text: string | null): AttemptError[] {
  if (text === null || text === '') return []
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AttemptError)
}

/** One stored line of {@link parseErrors}. */
export function errorLine(error: AttemptError): string {
  return `${JSON.stringify(error)}\n`
}
