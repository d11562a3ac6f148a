import { randomUUID } from 'node:crypto'
import { type Clock, NotFoundError, token, type Vault } from '@mortar/core'
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

  /** Saves a payment method for `userId`, its token encrypted. */
  async add(userId: string, input: NewPaymentMethod): Promise<PaymentMethod> {
    const id = randomUUID()
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
    await this.#db.insertInto('payment_methods').values(row).execute()
    return toPaymentMethod(row)
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
    const row = await this.#db
      .selectFrom('payment_methods')
      .select(['id', 'brand', 'last4', 'created_at'])
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    if (row === undefined) throw this.#notFound()
    return toPaymentMethod(row)
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
