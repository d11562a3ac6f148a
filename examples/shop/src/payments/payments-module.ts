import {
  CLOCK,
  databaseToken,
  defineModule,
  type Module,
  VAULT,
  Vault,
  type VaultKeys,
} from '@mortar/core'
import { PAYMENT_METHODS, PaymentMethods } from './payment-methods.js'
import type { PaymentsDb } from './payments-db.js'
import { paymentsMigrations } from './payments-migrations.js'

/** Options of {@link paymentsModule}. */
export interface PaymentsModuleOptions {
  /** The Vault's key ring; the last key encrypts, every key decrypts (rotation). */
  readonly vaultKeys: VaultKeys
}

/**
 * Payments: the `payment_methods` table, the {@link Vault} (bound as `VAULT`) and
 * {@link PaymentMethods}. The key ring is checked when the module is created.
 */
export function paymentsModule(options: PaymentsModuleOptions): Module {
  const vault = new Vault({ keys: options.vaultKeys })
  return defineModule({
    name: 'payments',
    migrations: paymentsMigrations,
    register(binder) {
      binder.bind(VAULT, { useValue: vault })
      binder.bind(PAYMENT_METHODS, {
        inject: [databaseToken<PaymentsDb>(), VAULT, CLOCK],
        useFactory: (db, boundVault, clock) => new PaymentMethods(db, boundVault, clock),
      })
    },
  })
}
