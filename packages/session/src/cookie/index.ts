export type { AppSessionData, SessionTypes } from './session.js'
export { Session, session } from './session.js'
export type {
  InvalidSessionEvent,
  SessionCookieOptions,
  SessionIdentity,
  SessionModuleOptions,
  SessionPassword,
  SessionSecret,
} from './session-config.js'
export { SessionManager, SESSIONS } from './session-manager.js'
export type { SessionModule } from './session-module.js'
export { sessionModule } from './session-module.js'
