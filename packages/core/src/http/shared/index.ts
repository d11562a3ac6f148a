export type { AdapterApp } from './adapter-app.js'
export type { ClientErrorServer } from './client-errors.js'
export {
  answerClientErrors,
  answerClientErrorsOf,
  isBrokenConnection,
} from './client-errors.js'
export { DEFAULT_BODY_LIMIT, declaredTooLarge, resolveBodyLimit } from './body-limit.js'
export type { FetchRequestInit } from './fetch-bridge.js'
export {
  alreadyReadBody,
  keepRawBody,
  mountedTarget,
  normalizeMountPrefix,
  originOf,
  safeOrigin,
  sendableResponse,
  sendFetchResponse,
  toFetchRequest,
} from './fetch-bridge.js'
export {
  endEventStreamsOnClose,
  forgetResponse,
  isEventStream,
  trackResponse,
} from './event-streams.js'
export type { FetchHandler } from './fetch-handler.js'
export {
  charsetRefusal,
  isJsonType,
  jsonTypeRefusal,
  MALFORMED_JSON_MESSAGE,
  PayloadTooLargeError,
  parseJsonBytes,
  refusePrototypeKeys,
  UnsupportedMediaTypeError,
  utf8Check,
  withBodyJson,
} from './http-errors.js'
export type { ContentCoding } from './content-coding.js'
export {
  contentCoding,
  decodeBody,
  decodingStream,
  hasBody,
  unsupportedCoding,
} from './content-coding.js'
export { MALFORMED_PATH_MESSAGE, malformedPathRefusal } from './malformed-path.js'
export { isHttpException, normalizeHttpError } from './normalize-http-error.js'
export type { RenderHttpErrorOptions } from './render-http-error.js'
export { pathOf, renderHttpError } from './render-http-error.js'
export type { OpenedRequest } from './node-context-opener.js'
export { nodeContextOpener } from './node-context-opener.js'
export { NodeHttpExchange } from './node-http-exchange.js'
export { readBody } from './read-body.js'
export { repeatedKeyReadAsOne, repeatedQueryKey } from './repeated-query-key.js'
export { RequestEnd, resolveScopeGraceMs } from './request-end.js'
export { firstHeader, REQUEST_ID_HEADER } from './request-id-header.js'
export type { ResponseGateOptions } from './response-gate.js'
export {
  gateResponse,
  isEndHeld,
  isResponseHeld,
  openResponseGate,
  REFUSED_RESULT_HEADERS,
} from './response-gate.js'
