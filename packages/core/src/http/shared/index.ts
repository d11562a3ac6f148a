export type { AdapterApp } from './adapter-app.js'
export {
  MALFORMED_JSON_MESSAGE,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './http-errors.js'
export { codeForStatus, normalizeHttpError } from './normalize-http-error.js'
export type { RenderHttpErrorOptions } from './render-http-error.js'
export { pathOf, renderHttpError } from './render-http-error.js'
export { NodeHttpExchange } from './node-http-exchange.js'
export { firstHeader, REQUEST_ID_HEADER } from './request-id-header.js'
export type { ResponseGateOptions } from './response-gate.js'
export { gateResponse, isResponseHeld, openResponseGate } from './response-gate.js'
