import { PASSWORD_HASHER, PasswordHasher, type ScryptCost } from '@mortar/auth'
import { CLOCK, databaseToken, defineModule, type Module } from '@mortar/core'
import type { AccountsDb } from './accounts-db.js'
import { accountsMigrations } from './accounts-migrations.js'
import { ACCOUNTS, Accounts, type SignUp } from './accounts.js'

/** Options of {@link accountsModule}. */
export interface AccountsModuleOptions {
  /** The scrypt cost of new password hashes; OWASP's (N = 2^17) by default. Lower it in tests. */
  readonly passwordCost?: Partial<ScryptCost>
  /** The admin account created at start when no account has its email. */
  readonly admin?: SignUp
}

/**
 * Accounts: the `users` table, the password hasher and {@link Accounts}; at start, the admin
 * account of `options.admin` when it does not exist yet.
 */
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
    async onStart(app) {
      if (options.admin === undefined) return
      const outcome = await app.resolve(ACCOUNTS).ensureAdmin(options.admin)
      if (outcome === 'created') app.logger.info('accounts: created the admin account')
      if (outcome === 'taken-by-customer') {
        app.logger.warn(
          'accounts: the admin email belongs to a customer account, which was not promoted; set ADMIN_EMAIL to another address',
        )
      }
    },
  })
}
