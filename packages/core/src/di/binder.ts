import type {
  ClassProvider,
  FactoryProvider,
  SelfBindingOptions,
  ValueProvider,
} from './provider.js'
import type { Constructor, Key } from './token.js'

/**
 * What a module's `register` receives: binds keys to providers. A provider's value type must
 * match the key's type, and a factory's parameters are typed from its `inject` tuple. Binding a
 * key twice keeps the last binding.
 *
 * @example
 * ```ts
 * import { defineModule, LOGGER, token } from '@mortar/core'
 *
 * interface Mailer { send(to: string, body: string): Promise<void> }
 * const MAILER = token<Mailer>('mailer')
 *
 * export const mailModule = defineModule({
 *   name: 'mail',
 *   register(binder) {
 *     binder.bind(MAILER, {
 *       inject: [LOGGER],
 *       useFactory: (logger) => ({ send: async (to) => logger.info({ to }, 'mail sent') }),
 *     })
 *   },
 * })
 * ```
 */
export interface Binder<C = unknown> {
  /** The app's config, as given to `createApp`. */
  readonly config: C
  /** The name of the module that is registering, as it appears in start-up errors. */
  readonly module: string
  /** Binds `key` to a factory whose parameters are the keys in `inject`. */
  bind<T, const D extends readonly Key<unknown>[] = readonly []>(
    key: Key<T>,
    provider: FactoryProvider<NoInfer<T>, D>,
  ): void
  /** Binds `key` to a value or a class. */
  bind<T>(key: Key<T>, provider: ValueProvider<NoInfer<T>> | ClassProvider<NoInfer<T>>): void
  /** Binds a class to itself (the self-binding shortcut). */
  bind<T>(key: Constructor<T>, options?: SelfBindingOptions): void
}
