/** The `users` table: one row per account. */
export interface UsersTable {
  /** A random UUID. */
  id: string
  /** Trimmed and lower-cased, unique. */
  email: string
  /** An scrypt PHC string from `@mortar/auth`'s PasswordHasher; never the password. */
  password_hash: string
  /** ISO 8601, UTC. */
  created_at: string
}

/** The tables of the accounts module. */
export interface AccountsDb {
  users: UsersTable
}
