export type { ToNodeHandlerOptions } from '../node/to-node-handler.js'
export { toNodeHandler } from '../node/to-node-handler.js'
export type { MortarErrorHandlerOptions, MortarExpressOptions } from './mortar-express.js'
export {
  mortarErrorHandler,
  mortarExpress,
  mortarNotFound,
  verifyUtf8Json,
} from './mortar-express.js'
export type { ClientErrorServer } from '../shared/index.js'
export { answerClientErrors } from '../shared/index.js'
