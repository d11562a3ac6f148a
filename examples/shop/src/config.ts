import { defineConfig } from '@mortar/core'
import { z } from 'zod'

/** The shop's settings, read from the environment (`PORT`, `HOST`). */
export const shopConfigSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(3000),
  host: z.string().default('127.0.0.1'),
})

export type ShopConfig = z.infer<typeof shopConfigSchema>

/** Parses the shop's config; throws one ConfigError naming every bad variable. */
export function loadShopConfig(env: NodeJS.ProcessEnv = process.env): ShopConfig {
  return defineConfig(shopConfigSchema, { env })
}
