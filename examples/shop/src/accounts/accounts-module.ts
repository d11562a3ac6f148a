import { PASSWORD_HASHER, PasswordHasher, type ScryptCost } from '@mortar/auth'
import { CLOCK, databaseToken, defineModule, type Module } from '@mortar/core'
import type { AccountsDb } from './accounts-db.js'
import { accountsMigrations } from './accounts-migrations.js'
import { ACCOUNTS, Accounts } from './accounts.js'

/** Options of {@link accountsModule}. */
export interface AccountsModuleOptions {
  /** The scrypt cost of new password hashes; OWASP's (N = 2^17) by default. Lower it in tests. */
  readonly passwordCost?: Partial<ScryptCost>
}

/** Accounts: the `users` table, the password hasher and {@link Accounts}. */
export function accountsModule(options: AccountsModuleOptions = {}): Module {
  return defineModule({
    name: 'accounts',
    migrations: accountsMigrations,
    register(binder) {
      binder.bind(PASSWORD_HASHER, {
        useValue: new PasswordHasher(
          options.passwordCost === undefined ? {} : { cost: options.passwordCost },
        ),
      })
      binder.bind(ACCOUNTS, {
        inject: [databaseToken<AccountsDb>(), PASSWORD_HASHER, CLOCK],
        useFactory: (db, hasher, clock) => new Accounts(db, hasher, clock),
      })
    },
  })
}
