export type { ConsentOptions } from './consent.js'
export { Suppressions } from './suppressions.js'
export { utcDay, VisitorIds } from './visitor-ids.js'
