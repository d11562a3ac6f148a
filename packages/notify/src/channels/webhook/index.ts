export {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookKey,
} from './standard-webhooks.js'
export type { VerifyWebhookOptions, WebhookHeaders } from './standard-webhooks.js'
export { WebhookChannel, webhookChannel } from './webhook-channel.js'
export type { WebhookChannelOptions } from './webhook-channel.js'
export type { WebhookMessage } from './webhook-message.js'
