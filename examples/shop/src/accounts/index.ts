export type { AccountsDb, Role, UsersTable } from './accounts-db.js'
export { accountsMigrations } from './accounts-migrations.js'
export {
  type Account,
  ACCOUNTS,
  AccountExistsError,
  Accounts,
  type Contact,
  PHONE_PATTERN,
  normalizeEmail,
  type SignUp,
} from './accounts.js'
export { type AccountsModuleOptions, accountsModule } from './accounts-module.js'
export { type AccountRoutesOptions, accountRoutes, type Device } from './account-routes.js'
export { type ShopSessionModuleOptions, shopSessionModule } from './shop-session-module.js'
export { currentPrincipal, requirePrincipal, type ShopPrincipal } from './shop-principal.js'
export {
  logInSchema,
  logInWithPassword,
  logOut,
  signUpSchema,
  signUpWithPassword,
} from './sign-in.js'
