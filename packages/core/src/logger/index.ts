export type { LogDestination, LoggerOptions, LogLevel } from './create-logger.js'
export { createLogger, DEFAULT_REDACT_PATHS } from './create-logger.js'
export type { LogFn, Logger } from './logger.js'
export { LOGGER } from './logger.js'
