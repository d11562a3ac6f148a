import type { FastifyInstance } from 'fastify'

/** One route of a Fastify server: a method and its path pattern (`/orders/:id`). */
export interface RouteEntry {
  readonly method: string
  readonly path: string
}

/**
 * Every route of a ready `server`, read back from `printRoutes()`'s tree (Fastify has no route
 * list): each line's depth is its indentation in steps of four, its text the path segment and
 * the methods in parentheses. HEAD routes Fastify adds beside GET are left out.
 */
export function routeList(server: FastifyInstance): RouteEntry[] {
  const routes: RouteEntry[] = []
  const stack: string[] = []
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([\s│]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (match === null) continue
    const depth = (match[1] ?? '').length / 4
    stack.length = depth
    stack.push(match[2] ?? '')
    const path = stack.join('').replace(/\/{2,}/g, '/')
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) {
      if (method !== 'HEAD')
        routes.push({ method, path: path.length > 1 ? path.replace(/\/$/, '') : path })
    }
  }
  return routes
}
