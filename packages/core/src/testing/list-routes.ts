/** One route of a server: a method and its path pattern (`/orders/:id`, `/pages/*`). */
export interface RouteEntry {
  readonly method: string
  readonly path: string
}

/** The part of a Fastify instance {@link listRoutes} reads (it has no route list of its own). */
export interface FastifyRoutesLike {
  printRoutes(): string
  hasRoute(options: { method: string; url: string }): boolean
}

/** The part of a Hono app {@link listRoutes} reads. */
export interface HonoRoutesLike {
  readonly routes: readonly { readonly method: string; readonly path: string }[]
}

// Methods a route registered for every method (Hono's `all`, `mount`) answers.
const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/**
 * Every route a ready Fastify server or a Hono app serves, from the server itself, so a test that
 * walks them (every unsafe route refuses a forged request, say) covers a route added later
 * without being told. HEAD routes that Fastify adds beside GET are left out; Hono's `all` routes
 * count once per method; Hono middleware (`use()` on every path) is not a route.
 *
 * @example
 * ```ts
 * import { listRoutes } from '@mortar/core/testing'
 *
 * await fastify.ready()
 * const unsafe = listRoutes(fastify).filter((route) => route.method !== 'GET')
 * ```
 */
export function listRoutes(server: FastifyRoutesLike | HonoRoutesLike): RouteEntry[] {
  const routes = 'routes' in server ? honoRoutes(server) : fastifyRoutes(server)
  const seen = new Set<string>()
  return routes.filter((route) => {
    const key = `${route.method} ${route.path}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function honoRoutes(hono: HonoRoutesLike): RouteEntry[] {
  return hono.routes.flatMap(({ method, path }) => {
    if (method !== 'ALL') return [{ method, path }]
    if (path === '*' || path === '/*') return []
    return ALL_METHODS.map((each) => ({ method: each, path }))
  })
}

// printRoutes() draws find-my-way's radix tree: a line's depth is its indentation in steps of
// four, its text the node's part of the path (concatenated, they make the pattern) and the
// methods in parentheses. Each pattern read is confirmed with hasRoute(), so a change in that
// drawing fails loudly instead of listing routes that do not exist.
function fastifyRoutes(fastify: FastifyRoutesLike): RouteEntry[] {
  const routes: RouteEntry[] = []
  const stack: string[] = []
  for (const line of fastify.printRoutes().split('\n')) {
    const match = /^([\s│]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (match === null) continue
    stack.length = (match[1] ?? '').length / 4
    stack.push(match[2] ?? '')
    const path = stack.join('')
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) {
      if (method === 'HEAD') continue
      if (!fastify.hasRoute({ method, url: path })) {
        throw new Error(
          `listRoutes read '${method} ${path}' from printRoutes(), which is no route.`,
        )
      }
      routes.push({ method, path })
    }
  }
  return routes
}
