/** The `payment_methods` table: a user's saved cards, as tokens of the payment provider. */
export interface PaymentMethodsTable {
  /** A UUID derived from the user and the provider token (see `PaymentMethods.add`). */
  id: string
  user_id: string
  /** `visa`, `mastercard`, … */
  brand: string
  /** The card's last four digits, shown to tell cards apart. */
  last4: string
  /** The provider's token, encrypted by the Vault and bound to this row (see `tokenAad`). */
  token_ciphertext: string
  /** ISO 8601, UTC. */
  created_at: string
}

/** The tables of the payments module. */
export interface PaymentsDb {
  payment_methods: PaymentMethodsTable
}
