import { defineConfig, type Secret, secret } from '@mortar/core'
import { z } from 'zod'

/**
 * The rides app's settings, read from the environment: `PORT`, `HOST`, `DATABASE_URL`,
 * `SESSION_PASSWORD` and `PAGINATION_KEY` (at least 32 characters each) and `DEMO_PASSWORD`, the
 * password every seeded account gets.
 */
export const ridesConfigSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(3000),
  host: z.string().default('127.0.0.1'),
  databaseUrl: z.string().default('sqlite:./var/rides.db'),
  sessionPassword: secret(z.string().min(32)),
  paginationKey: secret(z.string().min(32)),
  demoPassword: secret(z.string().min(8)),
})

/** The parsed settings; secrets stay wrapped until revealed. */
export interface RidesConfig {
  readonly port: number
  readonly host: string
  readonly databaseUrl: string
  readonly sessionPassword: Secret<string>
  readonly paginationKey: Secret<string>
  readonly demoPassword: Secret<string>
}

/** Parses the rides config; throws one ConfigError naming every bad variable. */
export function loadRidesConfig(env: NodeJS.ProcessEnv = process.env): RidesConfig {
  return defineConfig(ridesConfigSchema, { env })
}
