export {
  DEVELOPMENT_ADMIN_PASSWORD,
  DEVELOPMENT_SESSION_PASSWORD,
  DEVELOPMENT_SMS_AUTH_TOKEN,
  DEVELOPMENT_VAULT_KEY,
  type DevelopmentSettings,
  developmentSecretsIn,
  PRODUCTION_MIN_PASSWORD_HASH_LOG_N,
  refuseDevelopmentDefaultsInProduction,
  vaultKeyRing,
} from './development-defaults.js'
export { sameSecret } from './same-secret.js'
export { sessionKeyRingSchema } from './session-key-ring.js'
