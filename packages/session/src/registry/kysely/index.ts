export {
  databaseSessionRegistry,
  KyselySessionRegistry,
  sessionRegistryMigrations,
} from './kysely-session-registry.js'
export type {
  DatabaseSessionRegistryOptions,
  KyselySessionRegistryOptions,
} from './kysely-session-registry.js'
