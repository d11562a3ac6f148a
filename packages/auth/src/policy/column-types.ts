// The column types of the database, read once. On PostgreSQL a rule's comparison then compiles
// to a comparison of the column with a value of its own type (an index is used, no row is tested
// for its type) or to the constant the point check answers for every row of that type; each kind
// is the JS kind node-postgres reads the type back as, which is what the point check compares.
// MariaDB's columns may hold text that spells another kind, so there the types are told apart
// only where they change the SQL: those that read back as a Date, those compared as their UTF-8
// text (UUID, ENUM, SET, TIME, INET4/INET6, non-UTF-8 text, padded text), bytes (unknown to the
// point check), numbers whose bytes are padded, and numbers from strings: MariaDB reads a text
// compared with a number as a number, and a strict UPDATE raises (1292) where it is none.
import { SQLITE_JS_TEXT } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { PolicyDatabaseError } from '../errors.js'

/**
 * How a column reads back: an integer (`int2`, `int4`: a number; `int8`: a string), a boolean, a
 * string of any text (`text`, `varchar`), a lower-case uuid, one label of an enum, a Date
 * (`date`, `timestamp`, `timestamptz`), a float (`real`, `double precision`: a number, NaN and
 * -0 included, whose text is not JavaScript's: `1e-05` is 0.00001), a `char(n)` or an `inet`
 * (whose cast to text is not the output node-postgres reads: a char(n)'s strips the padding,
 * an inet's adds the mask, `::1/128`), a json value (parsed), an
 * object (an array, interval, bytea, point or circle, which no value compares with); `other` for
 * the rest (numeric, time…), which read back as their text.
 */
export type PgColumn = (
  | {
      readonly kind: 'integer'
      readonly min: bigint
      readonly max: bigint
      readonly notNull: boolean
    }
  | {
      readonly kind: 'boolean' | 'text' | 'char' | 'uuid' | 'float' | 'json' | 'object' | 'other'
      readonly notNull: boolean
    }
  /**
   * `local`: a `date` or `timestamp`, which node-postgres reads as a wall-clock time in this
   * process's time zone, whatever the session's; a `timestamptz` is a point in time.
   */
  | { readonly kind: 'date'; readonly local: boolean; readonly notNull: boolean }
  | { readonly kind: 'enum'; readonly labels: readonly string[]; readonly notNull: boolean }
) & {
  /**
   * Of a nondeterministic collation (an ICU one that ignores case or accents): its `=` took
   * 'abc' for 'ABC', where the point check compares exactly, and it refuses regular expressions.
   * Such a column is read through `collate "C"`.
   */
  readonly nondeterministic?: true
}

/** Columns by table, then by column name. */
export type PgColumns = ReadonlyMap<string, ReadonlyMap<string, PgColumn>>

const INTEGER_BITS: Readonly<Record<number, bigint>> = { 21: 16n, 23: 32n, 20: 64n }
const KIND_BY_OID: Readonly<
  Record<number, 'boolean' | 'text' | 'char' | 'uuid' | 'float' | 'json' | 'object'>
> = {
  16: 'boolean',
  25: 'text',
  1043: 'text',
  1042: 'char',
  // inet: its cast to text adds the mask its output leaves out ('::1/128' for '::1').
  869: 'char',
  2950: 'uuid',
  700: 'float',
  701: 'float',
  114: 'json',
  3802: 'json',
  // The types node-postgres (pg-types 2) parses into an object or an array: bytea, point,
  // circle, interval, and its arrays.
  ...Object.fromEntries(
    [
      17, 600, 718, 1186, 199, 651, 791, 1000, 1001, 1005, 1007, 1008, 1009, 1014, 1015, 1016, 1017,
      1021, 1022, 1028, 1040, 1041, 1115, 1182, 1183, 1185, 1187, 1231, 1270, 2951, 3807, 3907,
    ].map((oid) => [oid, 'object' as const]),
  ),
}
// date and timestamp (local wall-clock times), timestamptz.
const LOCAL_BY_OID: Readonly<Record<number, boolean>> = { 1082: true, 1114: true, 1184: false }

interface ColumnRow {
  table_name: string
  column_name: string
  type_oid: number
  type_type: string
  not_null: boolean
  labels: string[] | null
  deterministic: boolean
}

function columnOf(row: ColumnRow): PgColumn {
  const column = kindOf(row)
  return row.deterministic ? column : { ...column, nondeterministic: true }
}

function kindOf(row: ColumnRow): PgColumn {
  const notNull = row.not_null
  const bits = INTEGER_BITS[row.type_oid]
  if (bits !== undefined) {
    const max = 2n ** (bits - 1n) - 1n
    return { kind: 'integer', min: -max - 1n, max, notNull }
  }
  if (row.type_type === 'e' && row.labels !== null) {
    return { kind: 'enum', labels: row.labels, notNull }
  }
  const local = LOCAL_BY_OID[row.type_oid]
  if (local !== undefined) return { kind: 'date', local, notNull }
  return { kind: KIND_BY_OID[row.type_oid] ?? 'other', notNull }
}

/**
 * How a MariaDB column reads back: a Date, text whose bytes are not the UTF-8 mysql2 reads
 * (UUID, ENUM, SET, TIME, INET4, INET6, text in a character set other than UTF-8 or ASCII:
 * latin1 writes `é` as one byte; a ZEROFILL BIGINT or DECIMAL, which mysql2 reads as the padded
 * text, `'000042'`, that is no numeral; a type not listed here), a float (FLOAT, DOUBLE: a number
 * whose text is not JavaScript's, `1e15` is 1000000000000000), an integer, a DECIMAL, a number whose
 * bytes are padded where mysql2 reads the number (`padded`: a ZEROFILL INT is `'000042'` to SQL
 * and 42 to mysql2, a YEAR `'0000'` and 0), a string, or an object (a Buffer of BINARY, BLOB and
 * BIT, a geometry's object), which no value compares with; `json` for a JSON column, which
 * mysql2 parses (policies refuse to compare it: see sqlColumn).
 */
export type MysqlColumn =
  | 'json'
  | 'date'
  | 'typed-text'
  | 'float'
  | 'integer'
  | 'number'
  | 'padded'
  | 'text'
  | 'object'

/** MariaDB's columns by table, then by column name. */
export type MysqlColumns = ReadonlyMap<string, ReadonlyMap<string, MysqlColumn>>

const MYSQL_KINDS: Readonly<Record<string, MysqlColumn>> = {
  // MySQL's JSON type; MariaDB's is a LONGTEXT with a check of json_valid (readMysqlColumns).
  json: 'json',
  date: 'date',
  datetime: 'date',
  timestamp: 'date',
  uuid: 'typed-text',
  enum: 'typed-text',
  set: 'typed-text',
  // A string to mysql2, but charset() says 'binary', which the SQL takes for a number.
  time: 'typed-text',
  // Stored as 4 and 16 bytes, read back as their text.
  inet4: 'typed-text',
  inet6: 'typed-text',
  // Read as a number, written '0000' (and '05' by a YEAR(2)).
  year: 'padded',
  tinyint: 'integer',
  smallint: 'integer',
  mediumint: 'integer',
  int: 'integer',
  bigint: 'integer',
  decimal: 'number',
  float: 'float',
  double: 'float',
  char: 'text',
  varchar: 'text',
  tinytext: 'text',
  text: 'text',
  mediumtext: 'text',
  longtext: 'text',
  // Bytes (and geometries) charset() calls 'binary' like a number's, which mysql2 reads as a
  // Buffer or an object: the point check compares them with nothing.
  ...Object.fromEntries(
    [
      'binary',
      'varbinary',
      'tinyblob',
      'blob',
      'mediumblob',
      'longblob',
      'bit',
      'geometry',
      'point',
      'linestring',
      'polygon',
      'multipoint',
      'multilinestring',
      'multipolygon',
      'geometrycollection',
    ].map((type) => [type, 'object' as const]),
  ),
}

function byTable<C>(rows: readonly { table_name: string; column_name: string; column: C }[]) {
  const tables = new Map<string, Map<string, C>>()
  for (const row of rows) {
    let columns = tables.get(row.table_name)
    if (columns === undefined) {
      columns = new Map()
      tables.set(row.table_name, columns)
    }
    columns.set(row.column_name, row.column)
  }
  return tables
}

// Character sets whose bytes are the UTF-8 of the text mysql2 reads back.
const UTF8_BYTES: ReadonlySet<string> = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii'])

// Integer types mysql2 reads as a JS number, from the text the server sends.
const NUMBER_READ: ReadonlySet<string> = new Set(['tinyint', 'smallint', 'mediumint', 'int'])

function mysqlColumnOf(
  dataType: string,
  columnType: string,
  charset: string | null,
  json: boolean,
): MysqlColumn {
  if (json) return 'json'
  const type = dataType.toLowerCase()
  // A type this list lacks compares as its text, which never makes MariaDB read a number.
  const kind = MYSQL_KINDS[type] ?? 'typed-text'
  if ((kind === 'integer' || kind === 'number') && /\bzerofill\b/i.test(columnType)) {
    // The server sends '000042': mysql2 parses an INT's into 42, hands a BIGINT's or a
    // DECIMAL's over as it came (a FLOAT's and a DOUBLE's are parsed, as floats always are).
    return NUMBER_READ.has(type) ? 'padded' : 'typed-text'
  }
  if (kind === 'text' && charset !== null && !UTF8_BYTES.has(charset)) return 'typed-text'
  return kind
}

/** The columns of every table and view of the connection's database. */
export async function readMysqlColumns(db: Kysely<unknown>): Promise<MysqlColumns> {
  const { rows } = await sql<{
    table_name: string
    column_name: string
    data_type: string
    column_type: string
    charset: string | null
    json: number | string
  }>`
    select c.table_name as table_name, c.column_name as column_name, c.data_type as data_type,
      c.column_type as column_type, c.character_set_name as charset,
      exists (select 1 from information_schema.check_constraints k
        where k.constraint_schema = c.table_schema and k.table_name = c.table_name
          and k.check_clause like concat('%json_valid(\`', c.column_name, '\`)%')) as json
    from information_schema.columns c where c.table_schema = database()`.execute(db)
  // MariaDB's JSON is a LONGTEXT with the check json_valid(`column`), by which mysql2 parses it
  // (as it does a LONGTEXT given that check by hand).
  return byTable(
    rows.map((row) => ({
      ...row,
      column: mysqlColumnOf(row.data_type, row.column_type, row.charset, Number(row.json) === 1),
    })),
  )
}

/** The columns of every table and view on the connection's search path. */
export async function readPgColumns(db: Kysely<unknown>): Promise<PgColumns> {
  // A domain's column reads back as its base type (node-postgres is sent the base type's oid),
  // so it is told apart as that type: compared as its text, a domain over boolean took 'true'
  // for no boolean and one over timestamptz no Date for a Date.
  const { rows } = await sql<ColumnRow>`
    with recursive base (oid, type_oid) as (
      select t.oid, t.typbasetype from pg_type t where t.typtype = 'd'
      union all
      select b.oid, t.typbasetype from base b join pg_type t on t.oid = b.type_oid
      where t.typtype = 'd'
    )
    select c.relname as table_name, a.attname as column_name, t.oid::int as type_oid,
      t.typtype as type_type, a.attnotnull as not_null,
      case when t.typtype = 'e' then array(select e.enumlabel::text from pg_enum e
        where e.enumtypid = t.oid order by e.enumsortorder) end as labels,
      coalesce(co.collisdeterministic, true) as deterministic
    from pg_class c
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    left join base on base.oid = a.atttypid and not exists (select 1 from pg_type x
      where x.oid = base.type_oid and x.typtype = 'd')
    join pg_type t on t.oid = coalesce(base.type_oid, a.atttypid)
    left join pg_collation co on co.oid = a.attcollation
    where c.relkind in ('r', 'p', 'v', 'm', 'f') and pg_table_is_visible(c.oid)`.execute(db)
  return byTable(rows.map((row) => ({ ...row, column: columnOf(row) })))
}

/**
 * SQLite has no column types to read; a relation's link compares through the function core
 * registers on every database it opens (SQLITE_JS_TEXT), so a database opened without it (on
 * another driver) is refused here rather than at the first query.
 */
export async function checkSqliteFunctions(db: Kysely<unknown>): Promise<void> {
  try {
    await sql`select ${sql.raw(SQLITE_JS_TEXT)}(1)`.execute(db)
  } catch (error) {
    throw new PolicyDatabaseError(
      `The SQLite database lacks the function ${SQLITE_JS_TEXT}, which @mortar/core registers on every database it opens: open it through a sqlite: URL, NodeSqliteDialect or NodeSqliteDatabase.`,
      { cause: error },
    )
  }
}
