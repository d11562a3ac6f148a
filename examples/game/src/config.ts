import { defineConfig, type Secret, secret } from '@mortar/core'
import { z } from 'zod'

/**
 * The game's settings, read from the environment: `PORT`, `HOST`, `DATABASE_URL`,
 * `SESSION_PASSWORD` (at least 32 characters) and `DEMO_PASSWORD`, the one password of the demo
 * accounts.
 */
export const gameConfigSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(3000),
  host: z.string().default('127.0.0.1'),
  databaseUrl: z.string().default('sqlite:./var/game.db'),
  sessionPassword: secret(z.string().min(32)),
  demoPassword: secret(z.string().min(8)),
})

/** The parsed settings; secrets stay wrapped until revealed. */
export interface GameConfig {
  readonly port: number
  readonly host: string
  readonly databaseUrl: string
  readonly sessionPassword: Secret<string>
  readonly demoPassword: Secret<string>
}

/** Parses the game's config; throws one ConfigError naming every bad variable. */
export function loadGameConfig(env: NodeJS.ProcessEnv = process.env): GameConfig {
  return defineConfig(gameConfigSchema, { env })
}
