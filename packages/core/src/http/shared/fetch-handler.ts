/**
 * A handler of the web's Fetch API: takes a `Request`, answers a `Response`. Packages serve their
 * pages as one (the analytics dashboard, the dev mailbox), and every adapter can mount one under a
 * prefix, inside the Mortar request context: the request-start hooks (session, principal, CSRF)
 * have run, the body limit applies, and the before-response hooks see the response. The handler
 * receives the URL with the prefix removed, as Hono's `mount()` gives it.
 *
 * @example
 * ```ts
 * import { type FetchHandler, requestContext } from '@mortar/core'
 *
 * export const hello: FetchHandler = (request) =>
 *   new Response(`${new URL(request.url).pathname} for ${requestContext().requestId}`)
 * ```
 */
export type FetchHandler = (request: Request) => Response | Promise<Response>
