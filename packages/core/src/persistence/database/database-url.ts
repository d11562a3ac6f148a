import { DatabaseError } from './database-error.js'

/** The engines a database URL can pick. */
export type DatabaseEngine = 'sqlite' | 'postgres' | 'mysql'

/**
 * How to reach the app's database: a URL, plus options that override what the URL says.
 *
 * - `sqlite:./var/app.db`, `sqlite::memory:` (Node's built-in `node:sqlite`);
 *   `?mode=ro` opens an existing file read-only, `?mode=rw` an existing file read-write
 * - `postgres://user:password@host:5432/db?pool=10` (`pg`)
 * - `mysql://user:password@host:3306/db?pool=10` (`mysql2`; `mariadb://` works too)
 *
 * A URL parameter the engine's driver would ignore, or one Mortar sets itself, is refused
 * with `E_DATABASE_URL` naming it, rather than silently not applied.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 *
 * const app = createApp({ modules: [shop], database: { url: process.env.DATABASE_URL!, pool: 20 } })
 * ```
 */
export interface DatabaseOptions {
  readonly url: string
  /** Connections in the pool of a server engine (default 10, or the URL's `?pool=`). */
  readonly pool?: number
  /** How long to wait for a server to accept a connection, in milliseconds (default 10,000). */
  readonly connectTimeoutMs?: number
  /** SQLite: how long a write waits for another process's lock, in milliseconds (default 5,000). */
  readonly busyTimeoutMs?: number
}

/**
 * A parsed database URL; `connectionUrl` still holds the password, `display` never does, nor the
 * value of a parameter that may be secret (`ssl`, `options`, certificate paths: `***`).
 */
export interface ParsedDatabaseUrl {
  readonly engine: DatabaseEngine
  /** SQLite: the file, or `:memory:`. */
  readonly filename: string
  /** Server engines: the URL given to the driver, without Mortar's own parameters. */
  readonly connectionUrl: string
  readonly host: string
  readonly port: number | undefined
  readonly database: string
  readonly pool: number
  readonly connectTimeoutMs: number
  readonly busyTimeoutMs: number | undefined
  /**
   * SQLite: `rwc` (default) opens or creates the file, `rw` opens an existing file, `ro` opens
   * an existing file read-only.
   */
  readonly sqliteMode: SqliteMode
  /** The URL as it may be logged: the password replaced by `***`. */
  readonly display: string
  /** Strings that must never appear in a message: the password, raw and decoded. */
  readonly secrets: readonly string[]
}

/** How a SQLite URL's `?mode=` opens the file. */
export type SqliteMode = 'rwc' | 'rw' | 'ro'

const DEFAULT_POOL = 10
// The URL parameters each driver honours; anything else would be dropped without a word (pg)
// or with a console warning (mysql2). Those Mortar sets itself (mysql2's connectTimeout,
// connectionLimit, bigNumberStrings…) are left out: the URL would lose to Mortar's value.
const SERVER_PARAMETERS: Readonly<Record<'postgres' | 'mysql', ReadonlySet<string>>> = {
  postgres: new Set([
    'pool',
    'sslmode',
    'ssl',
    'sslcert',
    'sslkey',
    'sslrootcert',
    'sslnegotiation',
    'uselibpqcompat',
    'application_name',
    'fallback_application_name',
    'options',
    'client_encoding',
    'statement_timeout',
    'lock_timeout',
    'idle_in_transaction_session_timeout',
    'query_timeout',
  ]),
  mysql: new Set([
    'pool',
    'charset',
    'ssl',
    'compress',
    'decimalNumbers',
    'dateStrings',
    'enableKeepAlive',
    'keepAliveInitialDelay',
    'maxIdle',
    'idleTimeout',
    'queueLimit',
    'socketPath',
    'maxPreparedStatements',
    'multipleStatements',
    'enableCleartextPlugin',
  ]),
}
const SQLITE_MODES: ReadonlySet<string> = new Set(['rwc', 'rw', 'ro'])
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
const SCHEMES: Readonly<Record<string, 'postgres' | 'mysql'>> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
}

/**
 * Parses a database URL (or {@link DatabaseOptions}) and checks it; throws a
 * {@link DatabaseError} `E_DATABASE_URL` that names the problem but never the password.
 *
 * @example
 * ```ts
 * import { parseDatabaseUrl } from '@mortar/core'
 *
 * parseDatabaseUrl('postgres://app:secret@db:5432/shop?pool=20&sslrootcert=/etc/ca.pem').display
 * // 'postgres://app:***@db:5432/shop?sslrootcert=***' (the pool size is read, not passed on)
 * ```
 */
export function parseDatabaseUrl(input: string | DatabaseOptions): ParsedDatabaseUrl {
  const options: DatabaseOptions = typeof input === 'string' ? { url: input } : input
  const url = options.url?.trim()
  if (!url) {
    throw new DatabaseError(
      'E_DATABASE_URL',
      'No database URL: pass `database` to createApp or set DATABASE_URL (e.g. sqlite:./var/app.db).',
    )
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  if (url.startsWith('sqlite:')) return parseSqlite(url, options, connectTimeoutMs)

  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase()
  const engine = scheme === undefined ? undefined : SCHEMES[scheme]
  if (scheme === undefined || engine === undefined) {
    throw new DatabaseError(
      'E_DATABASE_URL',
      `Unknown database URL scheme ${scheme === undefined ? '(none)' : `'${scheme}'`}: use sqlite:, postgres:// or mysql://.`,
    )
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // The URL parser's own error echoes the whole input, password included: not kept as cause.
    throw new DatabaseError(
      'E_DATABASE_URL',
      `The ${engine} database URL is malformed: expected ${scheme}//user:password@host:port/database.`,
    )
  }
  const secrets = passwordSecrets(parsed.password)
  if (!parsed.hostname) {
    throw new DatabaseError(
      'E_DATABASE_URL',
      `The ${engine} database URL has no host: expected ${scheme}//user:password@host:port/database.`,
    )
  }
  refuseParameters(engine, [...parsed.searchParams.keys()], SERVER_PARAMETERS[engine])
  refuseNonUtf8(engine, parsed.searchParams)
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  if (engine === 'mysql' && database === '') {
    // mysql2 connects without one, then every query fails with "No database selected".
    throw new DatabaseError(
      'E_DATABASE_URL',
      `The mysql database URL names no database: expected ${scheme}//user:password@${parsed.host}/database.`,
    )
  }
  const pool = readPool(parsed, options.pool, engine)
  parsed.searchParams.delete('pool')
  const display = redact(parsed)
  return {
    engine,
    filename: '',
    connectionUrl: parsed.toString(),
    host: parsed.hostname,
    port: parsed.port === '' ? undefined : Number(parsed.port),
    database,
    pool,
    connectTimeoutMs,
    busyTimeoutMs: undefined,
    sqliteMode: 'rwc',
    display,
    secrets,
  }
}

function parseSqlite(
  url: string,
  options: DatabaseOptions,
  connectTimeoutMs: number,
): ParsedDatabaseUrl {
  let filename = url.slice('sqlite:'.length)
  // sqlite:///abs/path and sqlite://./rel are common spellings of the same file.
  if (filename.startsWith('//')) filename = filename.slice(2)
  const query = filename.indexOf('?')
  const parameters = new URLSearchParams(query === -1 ? '' : filename.slice(query + 1))
  if (query !== -1) filename = filename.slice(0, query)
  if (filename === '') {
    throw new DatabaseError(
      'E_DATABASE_URL',
      'The SQLite URL names no file: use sqlite:./var/app.db or sqlite::memory:.',
    )
  }
  refuseParameters('sqlite', [...parameters.keys()], new Set(['mode']))
  const mode = parameters.get('mode') ?? 'rwc'
  if (!SQLITE_MODES.has(mode) || parameters.getAll('mode').length > 1) {
    throw new DatabaseError(
      'E_DATABASE_URL',
      "The SQLite URL's mode must be ro (read-only), rw (an existing file) or rwc (the default: create it when missing).",
    )
  }
  if (filename === ':memory:' && mode !== 'rwc') {
    throw new DatabaseError(
      'E_DATABASE_URL',
      `An in-memory SQLite database is created empty, so mode=${mode} cannot apply: drop the parameter.`,
    )
  }
  return {
    engine: 'sqlite',
    filename,
    connectionUrl: '',
    host: 'localhost',
    port: undefined,
    database: filename,
    pool: 1,
    connectTimeoutMs,
    busyTimeoutMs: options.busyTimeoutMs,
    sqliteMode: mode as SqliteMode,
    display: mode === 'rwc' ? `sqlite:${filename}` : `sqlite:${filename}?mode=${mode}`,
    secrets: [],
  }
}

function refuseParameters(
  engine: DatabaseEngine,
  names: readonly string[],
  known: ReadonlySet<string>,
): void {
  const unknown = [...new Set(names.filter((name) => !known.has(name)))]
  if (unknown.length === 0) return
  throw new DatabaseError(
    'E_DATABASE_URL',
    `The ${engine} database URL has ${unknown.length === 1 ? 'a parameter' : 'parameters'} Mortar cannot honour: ${unknown
      .map((name) => `'${name}'`)
      .join(
        ', ',
      )}. Remove ${unknown.length === 1 ? 'it' : 'them'}; supported: ${[...known].join(', ')}.`,
  )
}

// The encodings a URL may set. Any other loses text without an error: mysql2 writes a character
// its charset lacks (an emoji in latin1) as '?', and pg decodes the server's UTF-8 with the
// client_encoding it is given (or the server reads UTF-8 as the one options set).
const UTF8MB4 = /^utf8mb4(_|$)/i
const UTF8 = /^utf-?8$/i
const OPTIONS_ENCODING = /(?:-c\s*|--)client[_-]encoding\s*=\s*'?([^\s']*)/gi

function refuseNonUtf8(engine: DatabaseEngine, parameters: URLSearchParams): void {
  const set =
    engine === 'mysql'
      ? parameters.getAll('charset').filter((charset) => !UTF8MB4.test(charset))
      : [
          ...parameters.getAll('client_encoding'),
          ...parameters
            .getAll('options')
            .flatMap((options) =>
              [...options.matchAll(OPTIONS_ENCODING)].map((match) => match[1] ?? ''),
            ),
        ].filter((encoding) => !UTF8.test(encoding))
  if (set.length === 0) return
  throw new DatabaseError(
    'E_DATABASE_URL',
    `The ${engine} database URL sets the connection's encoding to '${set[0]}', which would lose or garble text: ${engine === 'mysql' ? 'use charset=utf8mb4 or leave charset out' : 'use UTF8 or leave client_encoding out'}.`,
  )
}

function readPool(parsed: URL, override: number | undefined, engine: DatabaseEngine): number {
  const raw = parsed.searchParams.get('pool')
  const pool = override ?? (raw === null ? DEFAULT_POOL : Number(raw))
  if (!Number.isInteger(pool) || pool < 1 || pool > 1000) {
    throw new DatabaseError(
      'E_DATABASE_URL',
      `The ${engine} pool size must be a whole number from 1 to 1000 (got ${raw ?? String(override)}).`,
    )
  }
  return pool
}

function passwordSecrets(password: string): string[] {
  if (password === '') return []
  const secrets = [password]
  try {
    const decoded = decodeURIComponent(password)
    if (decoded !== password) secrets.push(decoded)
  } catch {
    // An undecodable password is only ever used raw.
  }
  return secrets
}

// Parameters whose value is shown in `display` (it goes into logs and error messages); any
// other is shown as ***: mysql2's `ssl` JSON may hold a private key and its passphrase, and
// `options` or a certificate path say more than a log needs.
const DISPLAYED = new Set([
  'pool',
  'sslmode',
  'sslnegotiation',
  'application_name',
  'fallback_application_name',
  'client_encoding',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'charset',
  'compress',
  'decimalNumbers',
  'dateStrings',
  'enableKeepAlive',
  'keepAliveInitialDelay',
  'maxIdle',
  'idleTimeout',
  'queueLimit',
  'maxPreparedStatements',
])

function redact(parsed: URL): string {
  const copy = new URL(parsed.toString())
  if (copy.password) copy.password = '***'
  for (const name of new Set(copy.searchParams.keys())) {
    if (!DISPLAYED.has(name)) copy.searchParams.set(name, '***')
  }
  return copy.toString()
}
