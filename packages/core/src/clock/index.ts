export type { Clock } from './clock.js'
export { CLOCK, SystemClock } from './clock.js'
// For '@mortar/core/testing' only; the main index does not export it.
export { FakeClock } from './fake-clock.js'
export type { WallTime } from './wall-time.js'
export { isTimeZone, wallTime } from './wall-time.js'
