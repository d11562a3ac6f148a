import { ValidationError } from '../errors/http-errors.js'
import { thrownText } from '../errors/thrown-text.js'
import type { JobDefinition } from './define-job.js'

/** Payloads above this size are refused: a queue row is not a blob store. */
export const MAX_PAYLOAD_CHARS = 1_048_576

/**
 * The payload as the JSON the queue stores, checked the way the worker will read it: parsed
 * back and validated by the schema. A value that fits the schema but not JSON (a `Date`, a
 * `Map`, a `bigint`) is refused here, not found by the worker later.
 */
export function serializePayload(job: JobDefinition, payload: unknown): string {
  let json: string | undefined
  try {
    json = JSON.stringify(payload)
  } catch (error) {
    throw notJson(job, thrownText(error))
  }
  if (json === undefined) throw notJson(job, 'it has no JSON form')
  if (json.length > MAX_PAYLOAD_CHARS) {
    throw new ValidationError(
      [{ path: '', message: `at most ${MAX_PAYLOAD_CHARS} characters of JSON`, code: 'too_big' }],
      `The payload of job '${job.name}' is ${json.length} characters of JSON; the limit is ${MAX_PAYLOAD_CHARS}. Store large data elsewhere and enqueue its id.`,
    )
  }
  const result = job.schema.safeParse(JSON.parse(json))
  if (result.success) return json
  if (job.schema.safeParse(payload).success) {
    throw notJson(
      job,
      `it fits the schema but not after a round trip through JSON (${result.error.issues.map((issue) => issue.message).join('; ')}); pass strings for dates and plain objects and arrays`,
    )
  }
  throw ValidationError.fromZod(
    result.error,
    `The payload of job '${job.name}' does not fit its schema.`,
  )
}

function notJson(job: JobDefinition, reason: string): ValidationError {
  return new ValidationError(
    [{ path: '', message: reason, code: 'not_json' }],
    `The payload of job '${job.name}' cannot be stored as JSON: ${reason}.`,
  )
}
