import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestDatabase, type TestDatabase, testEngineCases } from '../testing/test-databases.js'
import { type ReencryptProgress, reencryptColumn } from './reencrypt-column.js'
import { Vault } from './vault.js'
import { VaultError } from './vault-error.js'

interface Db {
  payment_methods: { id: number; token: string | null }
}

const K1 = randomBytes(32).toString('base64')
const K2 = randomBytes(32).toString('base64')
const aadOf = (id: number) => `payment_methods:${id}:token`

for (const testCase of testEngineCases()) {
  if (testCase.skipReason) console.info(testCase.skipReason)

  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(testCase.skipReason !== undefined)(
    `reencryptColumn on ${testCase.engine}`,
    () => {
      let handle: TestDatabase<Db>
      let db: Kysely<Db>
      const oldVault = new Vault({ keys: { k1: K1 } })
      const vault = new Vault({ keys: { k1: K1, k2: K2 } })

      beforeAll(async () => {
        handle = await openTestDatabase<Db>(testCase)
        db = handle.db
        await db.schema
          .createTable('payment_methods')
          .addColumn('id', 'integer', (column) => column.primaryKey())
          .addColumn('token', 'text')
          .execute()
      })

      afterAll(async () => {
        await handle?.destroy()
      })

      async function seed(count: number, pick: (id: number) => string | null): Promise<void> {
        await db.deleteFrom('payment_methods').execute()
        const rows = Array.from({ length: count }, (_, index) => ({
          id: index + 1,
          token: pick(index + 1),
        }))
        await db.insertInto('payment_methods').values(rows).execute()
      }

      it(`[${testCase.engine}] moves old-key values to the primary in batches and reports progress`, async () => {
        await seed(23, (id) =>
          id % 5 === 0
            ? null
            : (id % 3 === 0 ? vault : oldVault).encrypt(`tok_${id}`, { aad: aadOf(id) }),
        )
        const reports: ReencryptProgress[] = []
        const result = await reencryptColumn(db, {
          vault,
          table: 'payment_methods',
          idColumn: 'id',
          column: 'token',
          aad: (row) => aadOf(row.id),
          batchSize: 5,
          onProgress: (progress) => {
            reports.push(progress)
          },
        })
        expect(reports.map((report) => report.scanned)).toEqual([5, 10, 15, 20, 23])
        // 4 nulls (5, 10, 15, 20) and 6 values already on k2 (3, 6, 9, 12, 18, 21).
        expect(result).toMatchObject({
          scanned: 23,
          reencrypted: 13,
          skipped: 10,
          conflicts: 0,
          lastId: 23,
        })
        const rows = await db
          .selectFrom('payment_methods')
          .select(['id', 'token'])
          .orderBy('id')
          .execute()
        for (const row of rows) {
          if (row.token === null) continue
          expect(vault.keyIdOf(row.token)).toBe('k2')
          expect(new Vault({ keys: { k2: K2 } }).decrypt(row.token, { aad: aadOf(row.id) })).toBe(
            `tok_${row.id}`,
          )
        }
        const again = await reencryptColumn(db, {
          vault,
          table: 'payment_methods',
          idColumn: 'id',
          column: 'token',
          aad: (row) => aadOf(row.id),
        })
        expect(again).toMatchObject({ scanned: 23, reencrypted: 0, skipped: 23 })
      })

      it(`[${testCase.engine}] resumes after a given id`, async () => {
        await seed(6, (id) => oldVault.encrypt(`tok_${id}`, { aad: aadOf(id) }))
        const result = await reencryptColumn(db, {
          vault,
          table: 'payment_methods',
          idColumn: 'id',
          column: 'token',
          aad: (row) => aadOf(row.id),
          startAfter: 4,
        })
        expect(result).toMatchObject({ scanned: 2, reencrypted: 2 })
        const first = await db
          .selectFrom('payment_methods')
          .select('token')
          .where('id', '=', 1)
          .executeTakeFirstOrThrow()
        expect(vault.keyIdOf(first.token ?? '')).toBe('k1')
      })

      it(`[${testCase.engine}] stops with the row id when a value does not decrypt, writing nothing of that batch`, async () => {
        await seed(4, (id) => oldVault.encrypt(`tok_${id}`, { aad: aadOf(id === 3 ? 99 : id) }))
        const run = reencryptColumn(db, {
          vault,
          table: 'payment_methods',
          idColumn: 'id',
          column: 'token',
          aad: (row) => aadOf(row.id),
          batchSize: 10,
        })
        await expect(run).rejects.toBeInstanceOf(VaultError)
        await expect(run).rejects.toThrow(/row 3/)
        const rows = await db.selectFrom('payment_methods').select('token').execute()
        for (const row of rows) expect(vault.keyIdOf(row.token ?? '')).toBe('k1')
      })
    },
  )
}
