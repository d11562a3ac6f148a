/** The header every adapter reads a request id from and echoes it (or a fresh one) in. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** The first value of a Node.js header, which may be repeated. */
export function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0]
}
