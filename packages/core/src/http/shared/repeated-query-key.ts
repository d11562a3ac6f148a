import { BadRequestError } from '../../errors/index.js'

/**
 * The 400 for a query key given more than once (`?limit=1&limit=500`) where the app reads it as
 * one value: taking either would silently answer another request than the one sent, so no
 * adapter picks one.
 */
export function repeatedQueryKey(key: string, count: number): BadRequestError {
  return new BadRequestError(
    `The query parameter ${JSON.stringify(key.slice(0, 64))} is given ${count} times, and this route takes one value; send it once.`,
  )
}
