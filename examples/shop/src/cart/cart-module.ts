import { CLOCK, defineModule, type Module } from '@mortar/core'
import { STATE_STORE, stateModule } from '@mortar/session'
import { CARTS, Carts } from './cart-store.js'

/**
 * The carts ({@link CARTS}), kept in `@mortar/session`'s state store: these modules bind the
 * store on the app database (with the migration of its table) and the carts on it.
 */
export function cartModules(): Module[] {
  return [
    stateModule(),
    defineModule({
      name: 'cart',
      register(binder) {
        binder.bind(CARTS, {
          inject: [STATE_STORE, CLOCK],
          useFactory: (state, clock) => new Carts(state, clock),
        })
      },
    }),
  ]
}
