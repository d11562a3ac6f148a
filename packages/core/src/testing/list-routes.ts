/** One route of a server: its method and path pattern (`/products/:id`). */
export interface RouteInfo {
  readonly method: string
  readonly path: string
}

/** The part of a Fastify instance {@link listRoutes} reads (typed by shape: no import of fastify). */
export interface FastifyRoutesLike {
  printRoutes(options: { commonPrefix: false }): string
}

/** The part of a Hono app {@link listRoutes} reads. */
export interface HonoRoutesLike {
  readonly routes: ReadonlyArray<{ readonly method: string; readonly path: string }>
}

/**
 * Every route a Fastify or Hono server has, so a test can walk all of them and a route added
 * later is covered without editing the test. `HEAD` routes Fastify adds for `GET` and Hono's
 * middleware entries (`ALL /*`) are left out. Call it once the server is ready (Fastify:
 * after `await server.ready()` or the plugins' registration).
 *
 * @example
 * ```ts
 * import { listRoutes } from '@mortar/core/testing'
 *
 * for (const { method, path } of listRoutes(server)) console.log(method, path)
 * // GET /products, GET /products/:id, POST /cart …
 * ```
 */
export function listRoutes(server: FastifyRoutesLike | HonoRoutesLike): RouteInfo[] {
  const found =
    'printRoutes' in server ? fastifyRoutes(server) : honoRoutes((server as HonoRoutesLike).routes)
  const seen = new Set<string>()
  return found.filter((route) => {
    const key = `${route.method} ${route.path}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function honoRoutes(routes: HonoRoutesLike['routes']): RouteInfo[] {
  return routes
    .filter((route) => !(route.method === 'ALL' && route.path.endsWith('*')))
    .map((route) => ({ method: route.method, path: route.path }))
}

// Fastify prints its radix tree, one node a line: `│   └── /:id (GET, HEAD)`, four characters
// of indent per level, a node's text continuing its parent's path.
const NODE = /^(.*?)(?: \(([A-Z, ]+)\))?$/

function fastifyRoutes(server: FastifyRoutesLike): RouteInfo[] {
  const routes: RouteInfo[] = []
  const prefixes: string[] = []
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const marker = Math.max(line.indexOf('├── '), line.indexOf('└── '))
    if (marker === -1) continue
    const depth = Math.floor(marker / 4)
    const [, segment = '', methods] = NODE.exec(line.slice(marker + 4)) ?? []
    const path = (prefixes[depth - 1] ?? '') + segment
    prefixes[depth] = path
    prefixes.length = depth + 1
    for (const method of methods?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push({ method, path })
    }
  }
  return routes
}
