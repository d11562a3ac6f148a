export { INBOX, InboxChannel, inboxChannel } from './inbox-channel.js'
export { inboxHandler } from './inbox-handler.js'
export type { InboxHandlerOptions } from './inbox-handler.js'
export type { InboxMessage } from './inbox-message.js'
export { createInboxTable, Inbox, INBOX_TABLE } from './inbox-store.js'
export type {
  InboxChange,
  InboxCounts,
  InboxItem,
  InboxListOptions,
  InboxPage,
  InboxSeen,
  InboxStatus,
  InboxVersionRange,
  VersionedInboxItem,
} from './inbox-store.js'
