export { Deliveries } from './deliveries.js'
export type { DeliveryListOptions, LedgerStatus } from './delivery-ledger.js'
export type { DeliveryRecord, DeliveryStatus } from './delivery-table.js'
export type { NotificationFailedEvent, NotificationSentEvent } from './notify-events.js'
