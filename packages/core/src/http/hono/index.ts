export { PayloadTooLargeError, UnsupportedMediaTypeError } from '../shared/index.js'
export type { MortarHonoOptions } from './mortar-hono.js'
export { mortarHono, mortarNotFound, mortarOnError, useMortar } from './mortar-hono.js'
