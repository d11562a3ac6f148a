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
  const value = thrown instanceof Error ? thrown.message : thrown
  if (typeof value === 'string') return value
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}
