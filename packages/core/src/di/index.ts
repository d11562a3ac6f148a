export type { Binder } from './binder.js'
export type {
  ClassProvider,
  FactoryProvider,
  Lifetime,
  Provider,
  ResolvedKeys,
  SelfBindingOptions,
  ValueProvider,
} from './provider.js'
export { ResolutionError } from './resolution-error.js'
export type { Constructor, Key, Resolved, Token, TokenOptions } from './token.js'
export { globalToken, token } from './token.js'
export { inject, injectable } from './tsyringe.js'
