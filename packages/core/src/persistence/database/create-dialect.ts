import type { Dialect } from 'kysely'
import { MysqlDialect, PostgresDialect } from 'kysely'
import { NodeSqliteDialect } from '../sqlite/index.js'
import { DatabaseError } from './database-error.js'
import { mysqlTypeCast } from './mysql-type-cast.js'
import { coalescingClient } from './pipelined-write.js'
import type { ParsedDatabaseUrl } from './database-url.js'

/** Called with a pool's background errors (an idle connection dropped by the server). */
export type PoolErrorHandler = (error: Error) => void

/**
 * The Kysely dialect for a parsed URL. Drivers load inside the pool factory, on the first
 * query: an app on SQLite never loads `pg` or `mysql2`. `readCommitted` makes every session of
 * a MySQL/MariaDB pool read committed (see `Database.background`).
 */
export function createDialect(
  config: ParsedDatabaseUrl,
  onPoolError: PoolErrorHandler,
  readCommitted = false,
): Dialect {
  switch (config.engine) {
    case 'sqlite': {
      const options =
        config.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: config.busyTimeoutMs }
      return new NodeSqliteDialect({
        filename: config.filename,
        mode: config.sqliteMode,
        ...options,
      })
    }
    case 'postgres':
      return new PostgresDialect({
        pool: async () => {
          const pg = await loadDriver('pg', () => import('pg'))
          const Pool = pg.Pool ?? pg.default.Pool
          const pool = new Pool({
            Client: coalescingClient(pg.Client ?? pg.default.Client),
            connectionString: config.connectionUrl,
            max: config.pool,
            connectionTimeoutMillis: config.connectTimeoutMs,
            // A statement that is sent while an earlier one's answer is still on its way goes
            // out at once (see pipelineWrite); sequential queries run as before.
            pipeline: true,
          })
          // Without a listener, an idle client dropped by the server crashes the process.
          pool.on('error', onPoolError)
          // pg-pool listens only on idle clients: one checked out when its connection drops
          // (a server restart mid-query) would emit an unhandled 'error' and crash the
          // process. The query itself still fails and is reported to its caller.
          pool.on('connect', (client: PgClientLike) => {
            client.on('error', onPoolError)
            // Queued before the query the client was opened for. A server or role set to
            // extra_float_digits 0 or less writes a double rounded to 15 digits, which pg reads
            // back as another number (π as 3.14159265358979): every double column read lossy.
            client.query(EXACT_FLOATS).catch(onPoolError)
          })
          return pool
        },
      })
    case 'mysql':
      return new MysqlDialect({
        pool: async () => {
          const mysql = await loadDriver('mysql2', () => import('mysql2'))
          const createPool = mysql.createPool ?? mysql.default.createPool
          const pool = createPool({
            uri: config.connectionUrl,
            connectionLimit: config.pool,
            connectTimeout: config.connectTimeoutMs,
            // BIGINT as strings, as pg returns int8: a JS number would round values past 2^53.
            supportBigNumbers: true,
            bigNumberStrings: true,
            // A Date written and a DATETIME or TIMESTAMP read as UTC, as the session below
            // converts: in the process's zone (mysql2's default), two instants an hour apart
            // around a daylight-saving change read back as one, and every date was off by the
            // difference between the process's zone and the server's.
            timezone: 'Z',
            // DOUBLEs read whole, dates as the calendar dates they are (mysql-type-cast.ts),
            // or as their text where the URL asks for it.
            typeCast: mysqlTypeCast({ dateStrings: asksDateStrings(config.connectionUrl) }),
          })
          // Queued on a new connection before the query it was opened for. Strict whatever the
          // server's sql_mode: without it, a text too long is cut, a number out of range clamped
          // and a bad date stored as zeros, each with only a warning nobody reads. UTC whatever
          // the server's time zone: a TIMESTAMP converts at the session's zone, where an hour
          // repeated in autumn holds two instants under one wall-clock time.
          pool.on('connection', (connection) => {
            const report = (error: Error | null) => {
              if (error) onPoolError(error)
            }
            connection.query(SESSION_SETTINGS, report)
            if (readCommitted) {
              connection.query('set session transaction isolation level read committed', report)
            }
          })
          return pool
        },
      })
  }
}

/** Whether a MySQL URL sets mysql2's `dateStrings` (to true or to a list of types). */
function asksDateStrings(url: string): boolean {
  const value = new URL(url).searchParams.get('dateStrings')
  return value !== null && value !== 'false'
}

/** The two methods of a pg client the pool's connect listener calls. */
interface PgClientLike {
  on(event: 'error', listener: (error: Error) => void): unknown
  query(text: string): Promise<unknown>
}

// Any value above 0 writes doubles exactly (PostgreSQL 12+: in their shortest form).
const EXACT_FLOATS = 'set extra_float_digits = 3'

const SESSION_SETTINGS =
  "set session sql_mode = concat_ws(',', nullif(@@session.sql_mode, ''), 'STRICT_ALL_TABLES'), session time_zone = '+00:00'"

async function loadDriver<M>(name: string, load: () => Promise<M>): Promise<M> {
  try {
    return await load()
  } catch (error) {
    throw new DatabaseError(
      'E_DATABASE_DRIVER',
      `The database driver '${name}' is not installed: run \`npm i ${name}\`.`,
      { cause: error },
    )
  }
}
