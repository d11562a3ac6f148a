/** The longest a Node timer waits: past 2^31 − 1 ms it fires at once. */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * Whether an option given as a number is one from `min` to `max` (whole when asked). A number
 * only: a numeric string (an option read from `process.env`) is refused, as its arithmetic
 * would concatenate (`now + '5'`) or compare as text.
 */
export function isNumberIn(
  value: unknown,
  min: number,
  max: number,
  whole = false,
): value is number {
  return (
    typeof value === 'number' && value >= min && value <= max && (!whole || Number.isInteger(value))
  )
}

/**
 * A refused option's value for its error message. `String()` itself throws on an object that
 * has no usable `toString` (a null prototype), which would replace the error being reported.
 */
export function describeOption(value: unknown): string {
  return typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean'
    ? String(value)
    : typeof value === 'string'
      ? JSON.stringify(value)
      : typeof value
}
