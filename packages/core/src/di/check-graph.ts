import {
  type Dependency,
  dependenciesOf,
  describeParameter,
  describeProvider,
  type Registration,
} from './registration.js'
import { type Key, keyName, whenMissing } from './token.js'

/** What {@link checkGraph} found. Internal. */
export interface GraphReport {
  /** One sentence per problem, each naming the provider, the parameter, the key and the module. */
  readonly problems: readonly string[]
  /** Singletons and their dependencies first: the order to create them in. */
  readonly singletonOrder: readonly Registration[]
}

interface Edge {
  readonly from: Registration
  readonly dependency: Dependency
}

/**
 * Resolves every registration on paper: finds missing keys, unusable parameters, cycles,
 * singletons that capture a scoped provider and async factories that are not singletons. It
 * reports every problem, not the first, so one failed start shows everything to fix.
 */
export function checkGraph(registrations: ReadonlyMap<Key<unknown>, Registration>): GraphReport {
  const problems: string[] = []
  for (const registration of registrations.values()) {
    problems.push(...parameterProblems(registration, registrations))
    if (
      registration.kind === 'factory' &&
      registration.lifetime !== 'singleton' &&
      isAsyncFunction(registration.useFactory)
    ) {
      problems.push(
        `${describeProvider(registration)} is an async factory with lifetime '${registration.lifetime}'; only singletons may be async (start awaits them): make it a singleton or synchronous.`,
      )
    }
  }
  const { cycles, order } = walk(registrations)
  problems.push(...cycles)
  for (const registration of registrations.values()) {
    if (registration.lifetime === 'singleton' && registration.kind !== 'value') {
      problems.push(...captiveProblems(registration, registrations))
    }
  }
  return { problems, singletonOrder: order.filter((r) => r.lifetime === 'singleton') }
}

function parameterProblems(
  registration: Registration,
  registrations: ReadonlyMap<Key<unknown>, Registration>,
): string[] {
  // An override stands in for the real provider in a test; what it would need is not asked for.
  if (registration.overridden) return []
  const problems: string[] = []
  for (const dependency of dependenciesOf(registration)) {
    const where = `${describeProvider(registration)}, ${describeParameter(registration, dependency)}`
    if (dependency.problem !== undefined) {
      problems.push(`${where} ${dependency.problem}`)
    } else if (
      dependency.key !== undefined &&
      !dependency.optional &&
      !registrations.has(dependency.key)
    ) {
      problems.push(
        `${where} needs ${keyName(dependency.key)}, which no module binds; ${whenMissing(dependency.key)}.`,
      )
    }
  }
  return problems
}

function dependencyEdges(
  registration: Registration,
  registrations: ReadonlyMap<Key<unknown>, Registration>,
): Array<Edge & { readonly to: Registration }> {
  const edges: Array<Edge & { readonly to: Registration }> = []
  for (const dependency of dependenciesOf(registration)) {
    const to = dependency.key === undefined ? undefined : registrations.get(dependency.key)
    if (to) edges.push({ from: registration, dependency, to })
  }
  return edges
}

// Depth-first, post-order: a provider comes after everything it depends on. A grey node met
// again closes a cycle; each cycle is reported once, from the provider registered first.
function walk(registrations: ReadonlyMap<Key<unknown>, Registration>): {
  cycles: string[]
  order: Registration[]
} {
  const state = new Map<Registration, 'grey' | 'black'>()
  const order: Registration[] = []
  const cycles: string[] = []
  const seenCycles = new Set<string>()
  const path: Edge[] = []
  const ids = new Map([...registrations.values()].map((r, i) => [r, i]))

  const visit = (registration: Registration): void => {
    state.set(registration, 'grey')
    for (const edge of dependencyEdges(registration, registrations)) {
      const seen = state.get(edge.to)
      if (seen === 'black') continue
      if (seen === 'grey') {
        const start = path.findIndex((step) => step.from === edge.to)
        const loop = [...path.slice(start === -1 ? path.length : start), edge]
        const signature = loop
          .map((step) => ids.get(step.from))
          .sort((a = 0, b = 0) => a - b)
          .join(',')
        if (!seenCycles.has(signature)) {
          seenCycles.add(signature)
          cycles.push(describeCycle(loop))
        }
        continue
      }
      path.push(edge)
      visit(edge.to)
      path.pop()
    }
    state.set(registration, 'black')
    order.push(registration)
  }

  for (const registration of registrations.values()) {
    if (!state.has(registration)) visit(registration)
  }
  return { cycles, order }
}

function describeCycle(loop: readonly Edge[]): string {
  const steps = loop.map(
    (step) =>
      `${describeProvider(step.from)}, ${describeParameter(step.from, step.dependency)} needs ${keyName(step.dependency.key)}`,
  )
  return `Dependency cycle: ${steps.join(' -> ')}; break it by moving the shared part into a provider of its own, or resolve one side later from a factory.`
}

// A singleton outlives every request: reaching a scoped provider from it, directly or through
// transients (which it would create once and keep), pins one request's instance for good.
function captiveProblems(
  singleton: Registration,
  registrations: ReadonlyMap<Key<unknown>, Registration>,
): string[] {
  const problems: string[] = []
  const visited = new Set<Registration>([singleton])
  const reported = new Set<Registration>()
  const path: Edge[] = []

  const visit = (registration: Registration): void => {
    for (const edge of dependencyEdges(registration, registrations)) {
      if (visited.has(edge.to)) continue
      if (edge.to.lifetime === 'scoped') {
        if (reported.has(edge.to)) continue
        reported.add(edge.to)
        const chain = [...path, edge]
          .map(
            (step) =>
              `${describeProvider(step.from)}, ${describeParameter(step.from, step.dependency)} needs ${keyName(step.dependency.key)}`,
          )
          .join(' -> ')
        problems.push(
          `Captive dependency: singleton ${describeProvider(singleton)} depends on scoped ${describeProvider(edge.to)}: ${chain}. A singleton would keep the first request's instance for good; make it 'scoped' or 'transient', or inject something that is not scoped.`,
        )
      } else if (edge.to.lifetime === 'transient') {
        visited.add(edge.to)
        path.push(edge)
        visit(edge.to)
        path.pop()
      }
    }
  }
  visit(singleton)
  return problems
}

function isAsyncFunction(fn: Function): boolean {
  return fn.constructor?.name === 'AsyncFunction'
}
