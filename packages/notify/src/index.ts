// The whole public API of @mortar/notify. Each section re-exports one concern's face.

// the module, the ledger and notify()
export {
  DELIVERIES,
  NOTIFIER,
  NOTIFY_JOBS,
  notify,
  notifyModule,
  PREFERENCES,
} from './module/index.js'
export type { NotifyModuleOptions } from './module/index.js'
export { Deliveries } from './ledger/index.js'
export type {
  DeliveryListOptions,
  DeliveryRecord,
  DeliveryStatus,
  LedgerStatus,
  NotificationFailedEvent,
  NotificationSentEvent,
} from './ledger/index.js'

// admin alerts
export { ALERT_CATEGORY, ALERTS, Alerts, alertsModule } from './alerts/index.js'
export type {
  Alert,
  AlertAdmins,
  AlertChannel,
  AlertNotice,
  AlertsModuleOptions,
  ProcessLimits,
} from './alerts/index.js'

// digests
export { defineDigest } from './digest/index.js'
export type {
  Digest,
  DigestBatchCount,
  DigestBatchRecord,
  DigestDefinition,
  DigestRenderers,
  DigestWindow,
} from './digest/index.js'

// notifications
export {
  addressOf,
  channelsFor,
  defineNotification,
  defineTranslations,
  isOnDemand,
  Notification,
  notificationFields,
  notificationType,
  renderMessage,
  route,
} from './notification/index.js'
export type {
  ChannelsOf,
  CheckNotification,
  DefinedNotification,
  DefinedNotificationClass,
  DefinedRenderers,
  DeliveryOutcome,
  DigestEntry,
  NotificationDefinition,
  NotificationFields,
  Notifier,
  NotifyResult,
  OnDemandRecipient,
  Recipient,
  RecipientOf,
  Recipients,
  Rendered,
  RenderContext,
  Renderer,
  Translations,
} from './notification/index.js'

// channels
export {
  AddressGuard,
  ChatChannel,
  chatChannel,
  classifyHttpResult,
  classifySmtpError,
  DevMailbox,
  devMailbox,
  devMailboxPage,
  escapeChat,
  fallbackChannel,
  generateWebhookSecret,
  httpPost,
  INBOX,
  Inbox,
  InboxChannel,
  inboxChannel,
  inboxHandler,
  isMailAddress,
  MailChannel,
  mailChannel,
  SmsChannel,
  smsChannel,
  signWebhook,
  smtpTransport,
  verifyWebhook,
  WebhookChannel,
  webhookChannel,
  webhookKey,
} from './channels/index.js'
export type {
  AddressGuardOptions,
  AnyChannel,
  CapturedMail,
  Channel,
  ChannelHost,
  ChannelMessages,
  ChannelName,
  ChannelResult,
  ChatChannelOptions,
  ChatMessage,
  ComposedMail,
  DevMailboxOptions,
  DevMailboxPageOptions,
  HttpPostOptions,
  HttpPostResult,
  InboxChange,
  InboxCounts,
  InboxHandlerOptions,
  InboxItem,
  InboxListOptions,
  InboxMessage,
  InboxPage,
  InboxSeen,
  InboxStatus,
  InboxVersionRange,
  VersionedInboxItem,
  Lookup,
  MailAttachment,
  MailChannelOptions,
  MailMessage,
  MailTransport,
  Outgoing,
  RendererName,
  SmsChannelOptions,
  SmsMessage,
  SmtpTransportOptions,
  VerifyWebhookOptions,
  WebhookChannelOptions,
  WebhookHeaders,
  WebhookMessage,
} from './channels/index.js'

// preferences and quiet hours
export {
  decidePreference,
  isTimeZone,
  nextTimeOfDay,
  Preferences,
  quietHoursEnd,
} from './preferences/index.js'
export type {
  CategoryOptions,
  PreferenceChoice,
  PreferenceDecision,
  PreferenceEntry,
  QuietHours,
} from './preferences/index.js'

// HTML templates and pages
export { escapeHtml, html, SafeHtml, unsafeHtml } from './html/index.js'
export type { PageGuard } from './pages/index.js'

// errors
export {
  DeliveryNotFoundError,
  DeliveryNotReplayableError,
  NotifyConfigError,
  NotifyRecipientError,
  NotifyUnavailableError,
  InboxConflictError,
  InboxMarkerError,
  PreferenceRequiredError,
  WebhookSignatureError,
} from './errors.js'
export type { WebhookRejection } from './errors.js'
