export { KyselyThrottleStore, loginThrottleMigrations } from './kysely-throttle-store.js'
export type { KyselyThrottleStoreOptions } from './kysely-throttle-store.js'
