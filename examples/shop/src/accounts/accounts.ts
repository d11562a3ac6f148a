import { randomUUID } from 'node:crypto'
import type { PasswordHasher } from '@mortar/auth'
import { type Clock, executePrepared, MortarError, token } from '@mortar/core'
import type { Kysely, Selectable } from 'kysely'
import type { AccountsDb, Role, UsersTable } from './accounts-db.js'

/** An account as the API shows it: never its password hash. */
export interface Account {
  readonly id: string
  readonly email: string
  readonly role: Role
  readonly createdAt: string
}

/** How to reach an account: its email, and its phone when the user agreed to text messages. */
export interface Contact {
  readonly id: string
  readonly email: string
  /** The number as given, whether or not texts are allowed. */
  readonly phone: string | null
  readonly smsOptIn: boolean
}

/** A phone number in E.164 form: `+`, a country code, up to 15 digits. */
export const PHONE_PATTERN = /^\+[1-9]\d{6,14}$/

/** What signing up takes. */
export interface SignUp {
  readonly email: string
  readonly password: string
}

/** Sign-up with an email that already has an account. */
export class AccountExistsError extends MortarError {
  constructor(options: { readonly cause?: unknown } = {}) {
    super(
      'E_ACCOUNT_EXISTS',
      409,
      'An account with this email already exists; log in with POST /auth/login instead.',
      options,
    )
  }
}

type AccountRow = Pick<Selectable<UsersTable>, 'id' | 'email' | 'role' | 'created_at'>

function toAccount(row: AccountRow): Account {
  return { id: row.id, email: row.email, role: row.role, createdAt: row.created_at }
}

type ContactRow = Pick<Selectable<UsersTable>, 'id' | 'email' | 'phone' | 'sms_opt_in'>

function toContact(row: ContactRow): Contact {
  return { id: row.id, email: row.email, phone: row.phone, smsOptIn: Boolean(row.sms_opt_in) }
}

/** Emails compare trimmed and lower-cased, so `Ada@Example.com ` is `ada@example.com`. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/**
 * The shop's accounts: sign-up and password checks against the `users` table, with passwords
 * hashed by `@mortar/auth`'s PasswordHasher (scrypt).
 */
export class Accounts {
  readonly #db: Kysely<AccountsDb>
  readonly #hasher: PasswordHasher
  readonly #clock: Clock

  constructor(db: Kysely<AccountsDb>, hasher: PasswordHasher, clock: Clock) {
    this.#db = db
    this.#hasher = hasher
    this.#clock = clock
  }

  /** Creates an account; {@link AccountExistsError} (409) when the email is taken. */
  async signUp(input: SignUp, role: Role = 'customer'): Promise<Account> {
    const email = normalizeEmail(input.email)
    if (await this.#findByEmail(email)) throw new AccountExistsError()
    const row = {
      id: randomUUID(),
      email,
      password_hash: await this.#hasher.hash(input.password),
      role,
      created_at: new Date(this.#clock.nowMs()).toISOString(),
    }
    try {
      await this.#db.insertInto('users').values(row).execute()
    } catch (error) {
      // Two sign-ups with one email at once: the unique index refuses the second.
      if (await this.#findByEmail(email)) throw new AccountExistsError({ cause: error })
      throw error
    }
    return toAccount(row)
  }

  /**
   * The account whose password this is, or undefined. An unknown email costs a full hash too,
   * so the response time does not tell which emails have accounts.
   */
  async authenticate(emailInput: string, password: string): Promise<Account | undefined> {
    const row = await this.#findByEmail(normalizeEmail(emailInput))
    const ok = await this.#hasher.verifyOrDummy(row?.password_hash, password)
    if (!ok || row === undefined) return undefined
    if (this.#hasher.needsRehash(row.password_hash)) {
      // The cost was raised since this hash was made: store one at today's cost.
      await this.#db
        .updateTable('users')
        .set({ password_hash: await this.#hasher.hash(password) })
        .where('id', '=', row.id)
        .execute()
    }
    return toAccount(row)
  }

  /** The account with this id, or undefined (deleted, or never was). */
  async find(id: string): Promise<Account | undefined> {
    const row = await this.#db
      .selectFrom('users')
      .select(['id', 'email', 'role', 'created_at'])
      .where('id', '=', id)
      .executeTakeFirst()
    return row === undefined ? undefined : toAccount(row)
  }

  /**
   * How to reach one account, or undefined. One text for every call, run prepared on PostgreSQL
   * (see core's `executePrepared`): the order notifier reads it in every checkout's transaction,
   * where parsing and planning it each time cost the server more than the read.
   */
  async contact(id: string): Promise<Contact | undefined> {
    const { rows } = await executePrepared(
      this.#db as Kysely<unknown>,
      this.#db
        .selectFrom('users')
        .select(['id', 'email', 'phone', 'sms_opt_in'])
        .where('id', '=', id),
    )
    const [row] = rows
    return row === undefined ? undefined : toContact(row)
  }

  /** How to reach these accounts, by id (one query); ids without an account are left out. */
  async contacts(ids: readonly string[]): Promise<Map<string, Contact>> {
    if (ids.length === 0) return new Map()
    const rows = await this.#db
      .selectFrom('users')
      .select(['id', 'email', 'phone', 'sms_opt_in'])
      .where('id', 'in', [...ids])
      .execute()
    return new Map(rows.map((row) => [row.id, toContact(row)]))
  }

  /** How to reach the admin accounts (for admin alerts), oldest first. */
  async admins(): Promise<Contact[]> {
    const rows = await this.#db
      .selectFrom('users')
      .select(['id', 'email', 'phone', 'sms_opt_in'])
      .where('role', '=', 'admin')
      .orderBy('created_at')
      .execute()
    return rows.map((row) => ({
      id: row.id,
      email: row.email,
      phone: row.phone,
      smsOptIn: Boolean(row.sms_opt_in),
    }))
  }

  /**
   * Sets the account's phone number (`null` removes it) and whether texts may go to it; texts
   * need a number, so no number means no texts.
   */
  async setPhone(id: string, phone: string | null, smsOptIn: boolean): Promise<void> {
    if (phone !== null && !PHONE_PATTERN.test(phone)) {
      throw new TypeError('setPhone: the number must be in E.164 form (+15550100).')
    }
    await this.#db
      .updateTable('users')
      .set({ phone, sms_opt_in: phone !== null && smsOptIn })
      .where('id', '=', id)
      .execute()
  }

  /**
   * Creates the admin account `email` when no account has it, so a fresh shop has someone who
   * reaches the admin pages. An existing account is left as it is, never promoted: whoever
   * signed up with that email chose its password. Returns what it did.
   */
  async ensureAdmin(input: SignUp): Promise<'created' | 'exists' | 'taken-by-customer'> {
    const existing = await this.#findByEmail(normalizeEmail(input.email))
    if (existing !== undefined) return existing.role === 'admin' ? 'exists' : 'taken-by-customer'
    try {
      await this.signUp(input, 'admin')
      return 'created'
    } catch (error) {
      // Another instance starting at the same time created it first.
      if (error instanceof AccountExistsError) return 'exists'
      throw error
    }
  }

  #findByEmail(email: string): Promise<Selectable<UsersTable> | undefined> {
    return this.#db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()
  }
}

/** The shop's {@link Accounts}. */
export const ACCOUNTS = token<Accounts>('shop.accounts')
