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

/**
 * The {@link repeatedQueryKey} 400 when `query`, the record a framework's query parser made of
 * `url`'s query string, holds a key given more than once in it as anything but an array, else
 * undefined. The default parsers keep every value, but an app's own (Fastify's
 * `querystringParser`, Express's `query parser`) may keep one (`Object.fromEntries`, qs with
 * `duplicates: 'last'`), which the route would then read as the whole request.
 */
export function repeatedKeyReadAsOne(url: string, query: unknown): BadRequestError | undefined {
  const mark = url.indexOf('?')
  if (mark === -1 || typeof query !== 'object' || query === null) return undefined
  const counts = new Map<string, number>()
  for (const key of new URLSearchParams(url.slice(mark + 1)).keys()) {
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  for (const [key, count] of counts) {
    if (count > 1 && Object.hasOwn(query, key)) {
      if (!Array.isArray((query as Record<string, unknown>)[key]))
        return repeatedQueryKey(key, count)
    }
  }
  return undefined
}
