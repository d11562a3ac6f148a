export { SmsChannel, smsChannel } from './sms-channel.js'
export type { SmsChannelOptions } from './sms-channel.js'
export type { SmsMessage } from './sms-message.js'
