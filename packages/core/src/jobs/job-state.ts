import type { JsonValue } from './job-context.js'
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

// What one attempt's error keeps: its message, its name and its code, each cut to so many
// characters of JSON (an escape counts as the characters it takes). Unbounded, an error quoting a
// response body (17 MB) went past MariaDB's packet: its failure was never recorded, and the job
// neither ran again nor died.
const MAX_MESSAGE_CHARS = 2_000
const MAX_NAME_CHARS = 200
// A line: those fields, each with its cut's note, the attempt, its time and the keys.
const MAX_LINE_CHARS = MAX_MESSAGE_CHARS + 2 * MAX_NAME_CHARS + 300

/** A job keeps at least the errors of its last this many attempts, the older ones dropped. */
export const KEPT_ERRORS = 25

/**
 * The most characters of error lines a job keeps: the newest, so a job of many attempts holds
 * a bounded text (the SQL queue cuts it so as it appends; see {@link parseErrors}).
 */
export const MAX_ERRORS_CHARS = KEPT_ERRORS * MAX_LINE_CHARS

/** An attempt's error as the queue keeps it: each field cut to its length (see above). */
export function keptError(error: AttemptError): AttemptError {
  const { code } = error
  return {
    attempt: error.attempt,
    at: error.at,
    name: cut(error.name, MAX_NAME_CHARS),
    message: cut(error.message, MAX_MESSAGE_CHARS),
    ...(code === undefined ? {} : { code: cut(code, MAX_NAME_CHARS) }),
  }
}

// Control characters JSON writes in two characters (`\n`); the others take six (`\u0001`).
const SHORT_ESCAPES = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d])

/** `text` cut where its JSON would pass `max` characters, never inside a surrogate pair. */
function cut(text: string, max: number): string {
  let width = 0
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index)
    let units = 1
    let step = 1
    if (unit < 0x20) step = SHORT_ESCAPES.has(unit) ? 2 : 6
    else if (unit === 0x22 || unit === 0x5c) step = 2
    else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = text.charCodeAt(index + 1)
      const pair = unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff
      // A pair is written as it is, a lone surrogate escaped.
      units = pair ? 2 : 1
      step = pair ? 2 : 6
    }
    if (width + step > max)
      return `${text.slice(0, index)}… (${text.length - index} more characters)`
    width += step
    index += units - 1
  }
  return text
}

/**
 * Attempt errors stored one JSON object per line (appending needs no read), the newest
 * {@link MAX_ERRORS_CHARS} kept: the oldest line may then be the end of one, not an error.
 */
export function parseErrors(text: string | null): AttemptError[] {
  if (text === null || text === '') return []
  const lines = text.split('\n').filter((line) => line !== '')
  const errors: AttemptError[] = []
  for (const [index, line] of lines.entries()) {
    try {
      errors.push(JSON.parse(line) as AttemptError)
    } catch (error) {
      // The end of a line the cut began in: no end of a JSON object alone parses as one.
      if (index > 0) throw error
    }
  }
  return errors
}

/** One stored line of {@link parseErrors}. */
export function errorLine(error: AttemptError): string {
  return `${JSON.stringify(error)}\n`
}

/** The newest {@link MAX_ERRORS_CHARS} of a job's error lines. */
export function keptErrors(text: string): string {
  return text.length <= MAX_ERRORS_CHARS ? text : text.slice(-MAX_ERRORS_CHARS)
}

/**
 * A stored payload as `list` and `get` show it: parsed, or its text as stored when that is not
 * JSON (a row written by other code or an older version), so one such row fails no listing.
 */
export function shownPayload(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue
  } catch {
    return text
  }
}
