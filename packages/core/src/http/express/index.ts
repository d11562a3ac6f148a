export type { MortarErrorHandlerOptions } from './mortar-express.js'
export {
  mortarErrorHandler,
  mortarExpress,
  mortarNotFound,
} from './mortar-express.js'
