// The event is declared in @mortar/core, so notify's alerts subscribe to it without importing
// auth; re-exported here so `import { suspiciousActivitySchema } from '@mortar/auth'` keeps working.
export { suspiciousActivitySchema } from '@mortar/core'
export type { SuspiciousActivity } from '@mortar/core'
