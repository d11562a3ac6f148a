import { MortarError } from '../errors/index.js'

/** One bad or missing value found by `defineConfig`. */
export interface ConfigIssue {
  /** The environment variable to set or fix (`SHOP_PORT`); empty for a check on the whole config. */
  readonly envVar: string
  /** Dotted path of the config key (`database.poolSize`). */
  readonly path: string
  /** What is wrong, never including the received value (`expected a number`, `missing`). */
  readonly reason: string
  /** True when the key was declared with `secret()`. */
  readonly secret: boolean
}

/**
 * The environment does not fit the config schema. Raised once at start-up, listing every bad or
 * missing variable, so a deploy is fixed in one go. Its message and issues never contain a
 * received value.
 *
 * @example
 * ```ts
 * import { ConfigError, defineConfig } from '@mortar/core'
 * import { z } from 'zod'
 *
 * try {
 *   defineConfig(z.object({ port: z.number() }), { prefix: 'SHOP_' })
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.issues) // [{ envVar: 'SHOP_PORT', … }]
 *   throw error
 * }
 * ```
 */
export class ConfigError extends MortarError {
  readonly issues: readonly ConfigIssue[]

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `  ${issue.envVar || '(config)'}: ${issue.reason}`)
    const count = issues.length === 1 ? '1 setting is' : `${issues.length} settings are`
    super(
      'E_CONFIG',
      500,
      `Invalid configuration: ${count} missing or invalid. Set these environment variables and restart:\n${lines.join('\n')}`,
    )
    this.issues = issues
  }
}
