import { type TransactionCallOptions, transaction } from './transaction.js'

/**
 * Method decorator: the method runs in {@link transaction} with these options, so everything it
 * calls shares the transaction (joined by default). The method must return a promise.
 *
 * Plain JavaScript can apply it by hand with the same code path:
 * `Transactional()(Class.prototype, 'method', Object.getOwnPropertyDescriptor(Class.prototype, 'method'))`.
 *
 * @example
 * ```ts
 * import { Transactional } from '@mortar/core'
 *
 * class Checkout {
 *   @Transactional()
 *   async placeOrder(cart: Cart): Promise<string> {
 *     const id = await this.orders.create(cart)
 *     await this.stock.reserve(cart)
 *     return id
 *   }
 * }
 * ```
 */
export function Transactional<DB = unknown>(options: TransactionCallOptions<DB> = {}) {
  return <F extends (...args: never[]) => Promise<unknown>>(
    _target: object,
    _key: string | symbol,
    descriptor: TypedPropertyDescriptor<F>,
  ): TypedPropertyDescriptor<F> => {
    const method = descriptor.value
    if (typeof method !== 'function') {
      throw new TypeError('@Transactional() decorates methods only.')
    }
    const wrapped = function (this: unknown, ...args: Parameters<F>) {
      return transaction(() => method.apply(this, args), options)
    }
    Object.defineProperty(wrapped, 'name', { value: method.name })
    descriptor.value = wrapped as unknown as F
    return descriptor
  }
}
