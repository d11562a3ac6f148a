// channels
export { channelChecks, channelConformance } from './channel-conformance.js'
export type {
  ChannelCheck,
  ChannelConformanceOptions,
  ChannelConformanceSubject,
  ReceivedMessage,
} from './channel-conformance.js'

// notifications
export { NotificationFake } from './notification-fake.js'
export type {
  NotificationClass,
  NotificationFakeOptions,
  SentNotification,
} from './notification-fake.js'
