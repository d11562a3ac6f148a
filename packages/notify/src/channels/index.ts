export type {
  AnyChannel,
  Channel,
  ChannelHost,
  ChannelMessages,
  ChannelName,
  ChannelResult,
  Outgoing,
  RendererName,
} from './channel.js'
export { ChatChannel, chatChannel, escapeChat } from './chat/index.js'
export type { ChatChannelOptions, ChatMessage } from './chat/index.js'
export { fallbackChannel } from './fallback-channel.js'
export { AddressGuard, classifyHttpResult, httpPost } from './http/index.js'
export type { AddressGuardOptions, HttpPostOptions, HttpPostResult, Lookup } from './http/index.js'
export {
  createInboxTable,
  INBOX,
  INBOX_TABLE,
  Inbox,
  InboxChannel,
  inboxChannel,
  inboxHandler,
} from './inbox/index.js'
export type {
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
} from './inbox/index.js'
export {
  classifySmtpError,
  DevMailbox,
  devMailbox,
  devMailboxPage,
  isMailAddress,
  MailChannel,
  mailChannel,
  smtpTransport,
} from './mail/index.js'
export type {
  CapturedMail,
  ComposedMail,
  DevMailboxOptions,
  DevMailboxPageOptions,
  MailAttachment,
  MailChannelOptions,
  MailMessage,
  MailTransport,
  SmtpTransportOptions,
} from './mail/index.js'
export { SmsChannel, smsChannel } from './sms/index.js'
export type { SmsChannelOptions, SmsMessage } from './sms/index.js'
export {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookChannel,
  webhookChannel,
  webhookKey,
} from './webhook/index.js'
export type {
  VerifyWebhookOptions,
  WebhookChannelOptions,
  WebhookHeaders,
  WebhookMessage,
} from './webhook/index.js'
