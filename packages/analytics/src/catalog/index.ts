export { BUILT_IN_EVENTS } from './built-in-events.js'
export type { BuiltInEventName } from './built-in-events.js'
export { defineEvents } from './define-events.js'
export type {
  AnalyticsTypes,
  AppEvents,
  EventInput,
  EventName,
  EventProperties,
  EventSchema,
  EventSchemas,
  PropertyFilter,
  ScalarKey,
  ScalarValue,
} from './define-events.js'
