import { type Clock, MortarError, NotFoundError, token, type Vault } from '@mortar/core'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import type { PaymentMethodsTable, PaymentsDb } from './payments-db.js'

/** The card brands the shop takes. */
export const CARD_BRANDS = ['visa', 'mastercard', 'amex', 'discover', 'other'] as const

/** A card brand. */
export type CardBrand = (typeof CARD_BRANDS)[number]

/** What saving a payment method takes: the provider's token for the card, never the card number. */
export const newPaymentMethodSchema = z.object({
  token: z.string().regex(/^[A-Za-z0-9_-]{6,200}$/, 'must be a payment provider token'),
  last4: z.string().regex(/^[0-9]{4}$/, 'must be four digits'),
  brand: z.enum(CARD_BRANDS),
})

/** A payment method to save. */
export type NewPaymentMethod = z.output<typeof newPaymentMethodSchema>

/** A saved payment method as the API shows it: the brand and last four digits, never the token. */
export interface PaymentMethod {
  readonly id: string
  readonly brand: string
  readonly last4: string
  readonly createdAt: string
}

/** A provider token saved before for this user, sent again with another brand or last four. */
export class CardTokenReusedError extends MortarError {
  constructor() {
    super(
      'E_CARD_TOKEN_REUSED',
      422,
      'This card token is saved already with another brand or last four digits; get a new token from the payment provider for another card.',
    )
  }
}

/** What saving a payment method did: the card, and whether this call saved it or found it saved. */
export interface SavedPaymentMethod {
  readonly method: PaymentMethod
  readonly created: boolean
}

/**
 * The associated data binding a token to its row: a ciphertext copied to another row (another
 * user's card) fails to decrypt instead of charging the wrong card. It is built from the row id
 * alone, so core's `reencryptColumn` (which reads only the id and the value) can rotate keys.
 */
export function tokenAad(row: { readonly id: string }): string {
  return `payment_methods:${row.id}:token`
}

function toPaymentMethod(
  row: Pick<PaymentMethodsTable, 'id' | 'brand' | 'last4' | 'created_at'>,
): PaymentMethod {
  return { id: row.id, brand: row.brand, last4: row.last4, createdAt: row.created_at }
}

/**
 * A user's saved payment methods. The provider token is encrypted by the {@link Vault} before it
 * reaches the database and is decrypted only by {@link PaymentMethods.providerToken}, for a
 * charge; nothing else returns or logs it.
 */
export class PaymentMethods {
  readonly #db: Kysely<PaymentsDb>
  readonly #vault: Vault
  readonly #clock: Clock

  constructor(db: Kysely<PaymentsDb>, vault: Vault, clock: Clock) {
    this.#db = db
    this.#vault = vault
    this.#clock = clock
  }

  /**
   * Saves a payment method for `userId`, its token encrypted. The provider hands out a token per
   * card entry, so the same token again is the same request retried or sent twice: it answers
   * the card saved first (`created: false`) instead of saving it twice, or throws
   * {@link CardTokenReusedError} when the brand or last four differ.
   */
  async add(userId: string, input: NewPaymentMethod): Promise<SavedPaymentMethod> {
    const id = this.#idOf(userId, input.token)
    const row: PaymentMethodsTable = {
      id,
      user_id: userId,
      brand: input.brand,
      last4: input.last4,
      token_ciphertext: this.#vault.encrypt(input.token, {
        aad: tokenAad({ id }),
      }),
      created_at: new Date(this.#clock.nowMs()).toISOString(),
    }
    try {
      await this.#db.insertInto('payment_methods').values(row).execute()
    } catch (error) {
      // The id is the primary key: a concurrent or earlier save of the token fails here.
      const first = await this.#find(userId, id)
      if (first === undefined) throw error
      if (first.brand !== input.brand || first.last4 !== input.last4) {
        throw new CardTokenReusedError()
      }
      return { method: first, created: false }
    }
    return { method: toPaymentMethod(row), created: true }
  }

  // A UUID (version 8) from a keyed digest of the user and the token: one row per token and user,
  // and the id tells nothing of the token. A new primary Vault key gives new ids, so a token
  // saved before a rotation and sent again after it is saved a second time.
  #idOf(userId: string, providerToken: string): string {
    const digest = this.#vault.digest(`${userId}\n${providerToken}`, {
      purpose: 'shop.payment-method-id',
    })
    const bytes = Buffer.from(digest, 'base64url').subarray(0, 16)
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
    const hex = bytes.toString('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }

  async #find(userId: string, id: string): Promise<PaymentMethod | undefined> {
    const row = await this.#db
      .selectFrom('payment_methods')
      .select(['id', 'brand', 'last4', 'created_at'])
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    return row === undefined ? undefined : toPaymentMethod(row)
  }

  /** The user's payment methods, oldest first. */
  async list(userId: string): Promise<PaymentMethod[]> {
    const rows = await this.#db
      .selectFrom('payment_methods')
      .select(['id', 'brand', 'last4', 'created_at'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    return rows.map(toPaymentMethod)
  }

  /** One of the user's payment methods; a 404 when the user has none with this id. */
  async get(userId: string, id: string): Promise<PaymentMethod> {
    const method = await this.#find(userId, id)
    if (method === undefined) throw this.#notFound()
    return method
  }

  /** Deletes one of the user's payment methods; a 404 when the user has none with this id. */
  async remove(userId: string, id: string): Promise<void> {
    const result = await this.#db
      .deleteFrom('payment_methods')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    if (result.numDeletedRows === 0n) throw this.#notFound()
  }

  /**
   * The provider token of one of the user's payment methods, decrypted, for a charge. Keep it out
   * of responses and logs.
   */
  async providerToken(userId: string, id: string): Promise<string> {
    const row = await this.#db
      .selectFrom('payment_methods')
      .select(['id', 'user_id', 'token_ciphertext'])
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    if (row === undefined) throw this.#notFound()
    return this.#vault.decrypt(row.token_ciphertext, { aad: tokenAad(row) })
  }

  #notFound(): NotFoundError {
    return new NotFoundError('You have no saved payment method with this id.')
  }
}

/** The shop's {@link PaymentMethods}. */
export const PAYMENT_METHODS = token<PaymentMethods>('shop.payment-methods')
