export { KyselyStateStore } from './kysely-state-store.js'
export type { KyselyStateStoreOptions } from './kysely-state-store.js'
export { MemoryStateStore } from './memory-state-store.js'
export type { MemoryStateStoreOptions } from './memory-state-store.js'
export { stateMigrations, stateModule } from './state-module.js'
export type { StateModuleOptions } from './state-module.js'
export { STATE_STORE } from './state-store.js'
export type {
  StateDeleteOptions,
  StateEntry,
  StateNamespace,
  StateNamespaceOptions,
  StatePutOptions,
  StateStore,
} from './state-store.js'
