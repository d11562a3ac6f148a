/** An environment to read, `process.env` by default. */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Whether `NODE_ENV` names a development or test run (`development`, `test`; Vitest sets
 * `test`). Anything else, unset included, is production: a deployment that forgot NODE_ENV
 * gets production's defaults (Secure cookies, migrations required, no captured mail, no public
 * development secrets), never development's conveniences.
 */
export function isDevelopment(env: Environment = process.env): boolean {
  return env.NODE_ENV === 'development' || env.NODE_ENV === 'test'
}
