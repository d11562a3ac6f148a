import { executionAsyncResource } from 'node:async_hooks'

// Why: process.nextTick queues each callback in an object literal with computed symbol keys, and
// V8 caches the map such literals start from weakly. A full GC that runs while no tick is queued
// drops that map; the next tick builds a new one. A few such GCs (loading zod or kysely is
// enough) leave nextTick's property definitions megamorphic for the rest of the process, and
// every tick goes through the V8 runtime: about 5 µs more per request on a Fastify hello route,
// a fifth of its cost (bench/README.md). One tick object held for good keeps that map alive.
const HELD_TICK = Symbol.for('mortar.heldTick')

/** Keeps one `process.nextTick` tick object alive, once per process (ESM and CJS builds share it). */
export function holdNextTickShape(): void {
  const global = globalThis as unknown as Record<symbol, object | undefined>
  if (global[HELD_TICK] !== undefined) return
  // Inside a tick callback, the current async resource is the tick object itself.
  process.nextTick(() => {
    global[HELD_TICK] ??= executionAsyncResource()
  })
}
