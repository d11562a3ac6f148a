import { parameterNames } from './parameter-names.js'
import type { Lifetime } from './provider.js'
import { type Constructor, type Key, keyName } from './token.js'

/** One binding, as the container keeps it. Internal. */
export type Registration =
  | (RegistrationBase & { readonly kind: 'value'; readonly useValue: unknown })
  | (RegistrationBase & { readonly kind: 'class'; readonly useClass: Constructor<unknown> })
  | (RegistrationBase & {
      readonly kind: 'factory'
      readonly useFactory: (...deps: unknown[]) => unknown
      readonly inject: readonly Key<unknown>[]
    })

interface RegistrationBase {
  readonly key: Key<unknown>
  readonly lifetime: Lifetime
  /** The module that bound it; 'mortar' for built-ins, 'overrides' for test overrides. */
  readonly module: string
  /** Overrides replace a provider for a test; the graph check does not ask for their dependencies. */
  readonly overridden: boolean
}

/** One parameter of a provider: a constructor parameter or an entry of a factory's `inject`. */
export interface Dependency {
  readonly index: number
  readonly name: string | undefined
  /** The key to resolve; `undefined` when {@link Dependency.problem} says why there is none. */
  readonly key: Key<unknown> | undefined
  readonly optional: boolean
  /** Why this parameter can never be resolved, as a sentence that ends with what to do. */
  readonly problem: string | undefined
}

const INJECTION_TOKENS = 'injectionTokens'
const DESIGN_PARAM_TYPES = 'design:paramtypes'

// Types that decorator metadata emits for interfaces, primitives, unions and `import type`:
// none of them says what to inject.
const OPAQUE_TYPES: ReadonlySet<unknown> = new Set([
  undefined,
  null,
  Object,
  Function,
  String,
  Number,
  Boolean,
  Symbol,
  BigInt,
  Array,
  Promise,
])

// TypeScript (and SWC) record constructor parameter types only for a class that carries a
// decorator, with `emitDecoratorMetadata` on; esbuild never records them.
const NO_METADATA =
  'has no type metadata, so the container cannot tell what to inject: add @injectable() (from @mortar/core) to the class, since TypeScript records constructor parameter types only for decorated classes and only with emitDecoratorMetadata on (esbuild never records them); or put @inject(token) on each parameter, which needs no metadata.'

const dependencyCache = new WeakMap<Registration, readonly Dependency[]>()

/** The parameters a provider needs, in order. */
export function dependenciesOf(registration: Registration): readonly Dependency[] {
  let dependencies = dependencyCache.get(registration)
  if (!dependencies) {
    dependencies =
      registration.kind === 'value'
        ? []
        : registration.kind === 'factory'
          ? registration.inject.map(factoryDependency)
          : classDependencies(registration.useClass)
    dependencyCache.set(registration, dependencies)
  }
  return dependencies
}

function factoryDependency(key: Key<unknown>, index: number): Dependency {
  const problem =
    key === undefined || key === null
      ? 'is undefined (often a circular import of the class); import the key from where it is defined or use a token.'
      : undefined
  return { index, name: undefined, key: problem ? undefined : key, optional: false, problem }
}

function classDependencies(target: Constructor<unknown>): readonly Dependency[] {
  // Library code must not depend on decorator metadata, so an explicit @inject wins over it.
  const recorded: readonly unknown[] | undefined = Reflect.getMetadata(DESIGN_PARAM_TYPES, target)
  const types = recorded ?? []
  const injected: Readonly<Record<number, unknown>> =
    Reflect.getOwnMetadata(INJECTION_TOKENS, target) ?? {}
  const highestInjected = Math.max(-1, ...Object.keys(injected).map(Number))
  const count = Math.max(target.length, types.length, highestInjected + 1)
  const names = parameterNames(target)
  const dependencies: Dependency[] = []
  for (let index = 0; index < count; index++) {
    const name = names[index]
    const descriptor = injected[index]
    if (descriptor !== undefined) {
      dependencies.push({ index, name, ...fromDescriptor(descriptor) })
      continue
    }
    const type = types[index]
    if (OPAQUE_TYPES.has(type)) {
      dependencies.push({
        index,
        name,
        key: undefined,
        optional: false,
        problem:
          recorded === undefined || type === undefined
            ? NO_METADATA
            : `has type metadata ${describeType(type)}, which does not say what to inject (an interface, a primitive, or a class imported with \`import type\`); use @inject(token) on this parameter.`,
      })
      continue
    }
    dependencies.push({
      index,
      name,
      key: type as Key<unknown>,
      optional: false,
      problem: undefined,
    })
  }
  return dependencies
}

function describeType(type: unknown): string {
  return typeof type === 'function' ? type.name : String(type)
}

function fromDescriptor(descriptor: unknown): Omit<Dependency, 'index' | 'name'> {
  if (typeof descriptor !== 'object' || descriptor === null || !('token' in descriptor)) {
    return { key: descriptor as Key<unknown>, optional: false, problem: undefined }
  }
  const { token, multiple, isOptional, transform } = descriptor as {
    token: unknown
    multiple?: boolean
    isOptional?: boolean
    transform?: unknown
  }
  const optional = isOptional === true
  if (transform !== undefined) {
    return {
      key: undefined,
      optional,
      problem:
        'uses @injectWithTransform, which Mortar does not support; inject a factory instead.',
    }
  }
  if (multiple) {
    return {
      key: undefined,
      optional,
      problem:
        'uses @injectAll, which Mortar does not support; bind an array under one token instead.',
    }
  }
  if (token === undefined || token === null) {
    return {
      key: undefined,
      optional,
      problem:
        'has @inject(undefined) (often a circular import of the class); import the key from where it is defined or use a token.',
    }
  }
  return { key: token as Key<unknown>, optional, problem: undefined }
}

/** How errors name a provider: `class SignupService in module 'users'`. */
export function describeProvider(registration: Registration): string {
  const where = `in module '${registration.module}'`
  if (registration.kind === 'class') {
    const name = `class ${registration.useClass.name || 'anonymous'}`
    return registration.key === registration.useClass
      ? `${name} ${where}`
      : `${name} (bound to ${keyName(registration.key)}) ${where}`
  }
  return `${registration.kind} of ${keyName(registration.key)} ${where}`
}

/** How errors name a parameter: `constructor parameter #1 'mailer'` or `inject[0]`. */
export function describeParameter(registration: Registration, dependency: Dependency): string {
  if (registration.kind === 'factory') return `inject[${dependency.index}]`
  const name = dependency.name === undefined ? '' : ` '${dependency.name}'`
  return `constructor parameter #${dependency.index}${name}`
}
