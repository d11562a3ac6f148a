export {
  CARD_BRANDS,
  type CardBrand,
  CardTokenReusedError,
  type NewPaymentMethod,
  newPaymentMethodSchema,
  PAYMENT_METHODS,
  type PaymentMethod,
  PaymentMethods,
  type SavedPaymentMethod,
  tokenAad,
} from './payment-methods.js'
export type { PaymentMethodsTable, PaymentsDb } from './payments-db.js'
export { paymentsMigrations } from './payments-migrations.js'
export { type PaymentsModuleOptions, paymentsModule } from './payments-module.js'
export { type PaymentRoutesOptions, paymentRoutes } from './payment-routes.js'
