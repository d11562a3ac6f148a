export { defineNotification } from './define-notification.js'
export type {
  DefinedNotification,
  DefinedNotificationClass,
  DefinedRenderers,
  NotificationDefinition,
} from './define-notification.js'
export { Notification, notificationFields, notificationType } from './notification.js'
export type {
  ChannelsOf,
  CheckNotification,
  DigestEntry,
  NotificationFields,
  RecipientOf,
  RenderContext,
  Renderer,
} from './notification.js'
export type { DeliveryOutcome, Notifier, NotifyResult, Recipients } from './notifier.js'
export { addressOf, isOnDemand, route } from './recipient.js'
export type { OnDemandRecipient, Recipient } from './recipient.js'
export { channelsFor, renderMessage } from './render.js'
export type { Rendered } from './render.js'
export { defineTranslations } from './translations.js'
export type { Translations } from './translations.js'
