import { BadRequestError } from '../../errors/index.js'

/** The detail of every 400 for a path that is not percent-encoded UTF-8. */
export const MALFORMED_PATH_MESSAGE =
  'The request path holds a malformed percent-escape; encode each byte as %XX of UTF-8 (é is %C3%A9).'

/**
 * A {@link BadRequestError} (400) for a request target whose path is not percent-encoded UTF-8
 * (`/items/%ZZ`, `/items/%E0%A4%A`, a lone `%`), else undefined. Every adapter refuses such a
 * path before any hook or route: the routers would otherwise answer it each their own way (a
 * logged 500 under Express, Fastify's own 400 body, the raw escape as a parameter under Hono).
 * The query string is not checked here: the frameworks read it leniently, all alike.
 */
export function malformedPathRefusal(url: string): BadRequestError | undefined {
  const percent = url.indexOf('%')
  if (percent === -1) return undefined
  const query = url.indexOf('?')
  if (query !== -1 && percent > query) return undefined
  try {
    decodeURIComponent(query === -1 ? url : url.slice(0, query))
    return undefined
  } catch {
    return new BadRequestError(MALFORMED_PATH_MESSAGE)
  }
}
