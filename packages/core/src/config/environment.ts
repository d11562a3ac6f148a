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

/**
 * The value of variable `name`, or `undefined` when it is unset, empty or only whitespace: a
 * variable exported blank (`FOO=" "`, a template left unfilled) says nothing, as one exported
 * empty. Every reader of the environment goes through it, so all agree on what is set.
 */
export function envValue(env: Environment, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value.trim() === '' ? undefined : value
}
