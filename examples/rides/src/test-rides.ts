// What the rides tests start: one configuration and one cheap hasher, not a copy per file.
import { PasswordHasher } from '@mortar/auth'
import { Secret } from '@mortar/core'
import type { RidesConfig } from './config.js'
import { buildRides, type RidesServer } from './server.js'

/** The seeded users' password in tests. */
export const DEMO_PASSWORD = 'ride-along-2026'

/** Rides on `databaseUrl` with test secrets and a cheap scrypt cost (the hasher's own tests cover the default). */
export function buildTestRides(databaseUrl = 'sqlite::memory:'): Promise<RidesServer> {
  const config: RidesConfig = {
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    sessionPassword: new Secret('rides-test-session-password-0123456789'),
    paginationKey: new Secret('rides-test-pagination-key-0123456789abcdef'),
    demoPassword: new Secret(DEMO_PASSWORD),
  }
  return buildRides(config, { hasher: new PasswordHasher({ cost: { logN: 10 } }) })
}
