export { integerId, MAX_SQL_INTEGER } from './integer-id.js'
export { describeOption } from './number-in.js'
export type { IntegerIdOptions } from './integer-id.js'
export { hasLoneSurrogate, safeText } from './safe-text.js'
export type { SafeTextOptions } from './safe-text.js'
export { stringifyJson } from './stringify-json.js'
export type {
  JsonChange,
  JsonChangeKind,
  StringifiedJson,
  StringifyJsonOptions,
} from './stringify-json.js'
