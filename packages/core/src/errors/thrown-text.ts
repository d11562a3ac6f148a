/**
 * What was thrown, as text: an `Error`'s message, or the value itself. `String()` throws for an
 * object without a prototype, or whose `toString` throws; code that reports a failure (records a
 * job's attempt, stops the other modules) must not fail with it.
 *
 * @example
 *   thrownText(new Error('boom')) // 'boom'
 *   thrownText(undefined) // 'undefined'
 *   thrownText(Object.create(null)) // '[object Object]'
 */
export function thrownText(thrown: unknown): string {
  let value: unknown
  try {
    value = thrown instanceof Error ? thrown.message : thrown
  } catch {
    // A Proxy whose traps throw, a `message` getter that throws.
    return UNREADABLE
  }
  if (typeof value === 'string') return value
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

const UNREADABLE = 'a thrown value that cannot be read (its fields or traps throw)'

/** What reporting a thrown value reads of it: error checks, a job's record, the log's serializer. */
const REPORTED_FIELDS = ['message', 'name', 'code', 'stack', 'cause', 'retryAfterMs', 'constructor']

/**
 * `thrown`, or an `Error` saying it cannot be read when reading it throws (a getter, a Proxy's
 * trap): a failure being reported (a job's attempt, a log line) must not fail with a second one,
 * which would leave the first unrecorded.
 *
 * @example
 *   const hostile = new Proxy({}, { get() { throw new Error('no') } })
 *   readableThrown(hostile) // Error: a thrown value that cannot be read (…)
 */
export function readableThrown(thrown: unknown): unknown {
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) return thrown
  try {
    const fields = thrown as Record<PropertyKey, unknown>
    void (thrown instanceof Error)
    for (const key of Reflect.ownKeys(thrown)) void fields[key]
    for (const key of REPORTED_FIELDS) void fields[key]
    return thrown
  } catch {
    return new Error(UNREADABLE)
  }
}
