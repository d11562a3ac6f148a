import { isDevelopment } from '@mortar/core'
import type { ShopConfig } from '../config.js'

/** Where the stub is served, under the shop's own server. */
export const SMS_STUB_PREFIX = '/dev/sms'

/** Whether the shop serves its SMS stand-in: in development and tests, when no `SMS_URL` is set. */
export function servesSmsStub(config: ShopConfig, env: NodeJS.ProcessEnv = process.env): boolean {
  return config.smsUrl === undefined && isDevelopment(env)
}

/**
 * The SMS provider's API root: `SMS_URL`, else the stand-in on the shop's own port (so a worker
 * process sends to the web process's stub), else none (production without `SMS_URL`).
 */
export function smsProviderUrl(
  config: ShopConfig,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (config.smsUrl !== undefined) return config.smsUrl
  if (!servesSmsStub(config, env)) return undefined
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}${SMS_STUB_PREFIX}`
}
