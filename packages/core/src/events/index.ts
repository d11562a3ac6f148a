export type { EventHandler, EventMap } from './event-bus.js'
export { EVENT_BUS, EventBus } from './event-bus.js'
export { suspiciousActivitySchema } from './suspicious-activity.js'
export type { SuspiciousActivity } from './suspicious-activity.js'
