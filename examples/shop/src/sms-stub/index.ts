export { SmsOutbox, type StubSms } from './sms-outbox.js'
export { type SmsStubRoutesOptions, smsStubRoutes } from './sms-stub-routes.js'
export { SMS_STUB_PREFIX, servesSmsStub, smsProviderUrl } from './sms-provider.js'
