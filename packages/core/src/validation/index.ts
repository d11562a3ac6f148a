export { integerId, MAX_SQL_INTEGER } from './integer-id.js'
export type { IntegerIdOptions } from './integer-id.js'
export { hasLoneSurrogate, safeText } from './safe-text.js'
export type { SafeTextOptions } from './safe-text.js'
