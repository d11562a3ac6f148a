export { decidePreference } from './preference-policy.js'
export type { CategoryOptions, PreferenceDecision, PreferenceEntry } from './preference-policy.js'
export { createPreferenceTable, PREFERENCE_TABLE, Preferences } from './preference-store.js'
export type { PreferenceChoice } from './preference-store.js'
// Core's, kept in notify's API where it has always been.
export { isTimeZone } from '@mortar/core'
export { minutesOfDay, nextTimeOfDay, quietHoursEnd } from './quiet-hours.js'
export type { QuietHours } from './quiet-hours.js'
