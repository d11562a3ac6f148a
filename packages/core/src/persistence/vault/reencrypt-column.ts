import { type Kysely, type SelectType, sql } from 'kysely'
import type { Vault } from './vault.js'
import { VaultError } from './vault-error.js'

/** Counters of a {@link reencryptColumn} run, reported after every batch and returned at the end. */
export interface ReencryptProgress {
  /** Rows read so far. */
  readonly scanned: number
  /** Values moved to the primary key. */
  readonly reencrypted: number
  /** Rows left alone: a null value, or already on the primary key. */
  readonly skipped: number
  /** Values changed by someone else between read and write; their new value was kept. */
  readonly conflicts: number
  /** The id of the last row of the batch, to resume from with `startAfter`. */
  readonly lastId: unknown
}

/** Options of {@link reencryptColumn}. */
export interface ReencryptColumnOptions<
  DB,
  T extends keyof DB & string,
  I extends keyof DB[T] & string,
  C extends keyof DB[T] & string,
> {
  readonly vault: Vault
  readonly table: T
  /** A unique, sortable column that pages through the table (usually the primary key). */
  readonly idColumn: I
  /** The column holding Vault ciphertexts (nulls are skipped). */
  readonly column: C
  /** The `aad` each value was encrypted with, built from its row. */
  readonly aad: (row: { readonly [K in I | C]: SelectType<DB[T][K]> }) => string
  /** Rows per batch, each batch in its own transaction; default 500. */
  readonly batchSize?: number
  /** Resume after this id (the `lastId` of an interrupted run). */
  readonly startAfter?: SelectType<DB[T][I]>
  /** Called after each batch. */
  readonly onProgress?: (progress: ReencryptProgress) => void | Promise<void>
}

type Row = Record<string, unknown>

/**
 * Moves every value of an encrypted column to the Vault's primary key, in batches of
 * `batchSize` rows ordered by `idColumn`, each batch in one transaction, reporting progress. Run
 * it after making a new key primary; then the old key can leave the ring. A value that fails to
 * decrypt stops the run with a {@link VaultError} naming the row id (fail closed). A write only
 * lands if the value is still the one read, so concurrent updates are never overwritten.
 *
 * @example
 * ```ts
 * import { reencryptColumn } from '@mortar/core'
 *
 * const result = await reencryptColumn(db, {
 *   vault,
 *   table: 'payment_methods',
 *   idColumn: 'id',
 *   column: 'token',
 *   aad: (row) => `payment_methods:${row.id}:token`,
 *   batchSize: 500,
 *   onProgress: (progress) => logger.info(progress, 're-encrypting payment tokens'),
 * })
 * ```
 */
export async function reencryptColumn<
  DB,
  T extends keyof DB & string,
  I extends keyof DB[T] & string,
  C extends keyof DB[T] & string,
>(db: Kysely<DB>, options: ReencryptColumnOptions<DB, T, I, C>): Promise<ReencryptProgress> {
  const { vault, table, idColumn, column } = options
  const batchSize = options.batchSize ?? 500
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError('reencryptColumn: batchSize must be a positive integer.')
  }
  const aad = options.aad as (row: Row) => string
  const id = sql.ref(idColumn)
  const value = sql.ref(column)
  let progress: ReencryptProgress = {
    scanned: 0,
    reencrypted: 0,
    skipped: 0,
    conflicts: 0,
    lastId: options.startAfter,
  }
  let lastId: unknown = options.startAfter
  for (;;) {
    const after = lastId === undefined ? sql`` : sql`where ${id} > ${lastId}`
    const { rows } =
      await sql<Row>`select ${id}, ${value} from ${sql.table(table)} ${after} order by ${id} limit ${batchSize}`.execute(
        db,
      )
    if (rows.length === 0) break
    let { reencrypted, skipped, conflicts } = progress
    const updates: { id: unknown; old: string; next: string }[] = []
    for (const row of rows) {
      const current = row[column]
      if (current === null || current === undefined) {
        skipped++
        continue
      }
      const text = String(current)
      try {
        if (!vault.needsReencryption(text)) {
          skipped++
          continue
        }
        updates.push({
          id: row[idColumn],
          old: text,
          next: vault.reencrypt(text, { aad: aad(row) }),
        })
      } catch (error) {
        if (error instanceof VaultError) {
          throw new VaultError(
            error.code,
            `${table}.${column} of row ${String(row[idColumn])}: ${error.message}`,
            {
              cause: error,
              keyId: error.keyId,
            },
          )
        }
        throw error
      }
    }
    if (updates.length > 0) {
      await db.transaction().execute(async (trx) => {
        for (const update of updates) {
          const result =
            await sql`update ${sql.table(table)} set ${value} = ${update.next} where ${id} = ${update.id} and ${value} = ${update.old}`.execute(
              trx,
            )
          if ((result.numAffectedRows ?? 0n) > 0n) reencrypted++
          else conflicts++
        }
      })
    }
    lastId = rows.at(-1)?.[idColumn]
    progress = { scanned: progress.scanned + rows.length, reencrypted, skipped, conflicts, lastId }
    await options.onProgress?.(progress)
    if (rows.length < batchSize) break
  }
  return progress
}
