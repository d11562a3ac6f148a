export { PayloadTooLargeError, UnsupportedMediaTypeError } from '../shared/index.js'
export { mortarHono, mortarNotFound, mortarOnError, useMortar } from './mortar-hono.js'
