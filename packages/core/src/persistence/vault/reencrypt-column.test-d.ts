// Type tests, checked by the root `npx tsc`: what must compile, and (`@ts-expect-error`) what must not.
import type { Kysely } from 'kysely'
import { reencryptColumn } from './reencrypt-column.js'
import type { Vault } from './vault.js'

interface Db {
  payment_methods: { id: number; token: string | null }
}

declare const db: Kysely<Db>
declare const vault: Vault

export async function accepted(): Promise<void> {
  await reencryptColumn(db, {
    vault,
    table: 'payment_methods',
    idColumn: 'id',
    column: 'token',
    aad: (row) => `payment_methods:${row.id.toFixed(0)}:token`,
    startAfter: 100,
  })
}

export async function rejected(): Promise<void> {
  await reencryptColumn(db, {
    vault,
    // @ts-expect-error an unknown table
    table: 'payments',
    idColumn: 'id',
    column: 'token',
    aad: () => '',
  })
  await reencryptColumn(db, {
    vault,
    table: 'payment_methods',
    idColumn: 'id',
    // @ts-expect-error a column the table does not have
    column: 'tokn',
    aad: () => '',
  })
  await reencryptColumn(db, {
    vault,
    table: 'payment_methods',
    idColumn: 'id',
    column: 'token',
    // @ts-expect-error the row has only the id and the encrypted column
    aad: (row) => row.owner,
  })
  // @ts-expect-error the vault is required
  await reencryptColumn(db, {
    table: 'payment_methods',
    idColumn: 'id',
    column: 'token',
    aad: () => '',
  })
}
