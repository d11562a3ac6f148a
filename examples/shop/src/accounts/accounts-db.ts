import type { ColumnType } from 'kysely'

/** What a user may do: shoppers are customers; admins also reach the admin pages. */
export type Role = 'customer' | 'admin'

/** The `users` table: one row per account. */
export interface UsersTable {
  /** A random UUID. */
  id: string
  /** Trimmed and lower-cased, unique. */
  email: string
  /** An scrypt PHC string from `@mortar/auth`'s PasswordHasher; never the password. */
  password_hash: string
  /** `customer` unless written otherwise (the column's default). */
  role: ColumnType<Role, Role | undefined, Role>
  /** A phone number in E.164 form (`+15550100`), for text messages; null when not given. */
  phone: ColumnType<string | null, string | null | undefined, string | null>
  /**
   * Whether the user agreed to text messages (shipping updates) on that number; false unless
   * they said so. 0/1 on SQLite and MariaDB.
   */
  sms_opt_in: ColumnType<boolean | number, boolean | undefined, boolean>
  /** ISO 8601, UTC. */
  created_at: string
}

/** The tables of the accounts module. */
export interface AccountsDb {
  users: UsersTable
}
