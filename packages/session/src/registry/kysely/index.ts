export {
  databaseSessionRegistry,
  KyselySessionRegistry,
  sessionRegistryMigrations,
} from './kysely-session-registry.js'
export type { KyselySessionRegistryOptions } from './kysely-session-registry.js'
