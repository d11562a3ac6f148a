import { globalToken } from '../di/token.js'

/** One log method: a message, or an object of fields and an optional message. */
export interface LogFn {
  (message: string): void
  (fields: object, message?: string): void
}

/** The logger every package logs through (pino by default, behind {@link LOGGER}). */
export interface Logger {
  readonly trace: LogFn
  readonly debug: LogFn
  readonly info: LogFn
  readonly warn: LogFn
  readonly error: LogFn
  readonly fatal: LogFn
  child(bindings: Record<string, unknown>): Logger
}

/** The app's {@link Logger}. */
export const LOGGER = globalToken<Logger>('mortar.logger')
