import type { Kysely } from 'kysely'
import { DIGEST_BATCH_TABLE } from '../digest/digest-store.js'
import type { Recipient } from '../notification/recipient.js'
import { withoutAddress } from '../notification/shown-address.js'
import { DELIVERY_TABLE } from './delivery-table.js'
import {
  type AddressSeal,
  deliveryAddressPlace,
  digestRoutePlace,
  isSealed,
} from './sealed-address.js'

/** What {@link sealStoredAddresses} sealed. */
export interface SealedCounts {
  readonly deliveries: number
  readonly digestBatches: number
}

interface Tables {
  mortar_delivery: { id: string; address: string | null; last_error: string | null }
  mortar_digest_batch: { id: string; recipient: string }
}

const PAGE = 500

/**
 * Seals the secret-bearing addresses that rows written before the notify module had a vault
 * hold in plaintext: each delivery's address (and its reason, cleaned of it), and the routes of
 * each digest batch's recipient.
 * A row changed meanwhile is left to the writer that changed it (its value is compared). Safe
 * to run again: a sealed value is skipped.
 */
export async function sealStoredAddresses(
  db: Kysely<unknown>,
  seal: AddressSeal,
): Promise<SealedCounts> {
  const typed = db as Kysely<Tables>
  let deliveries = 0
  for (let after = ''; ; ) {
    const rows = await typed
      .selectFrom(DELIVERY_TABLE)
      .select(['id', 'address', 'last_error'])
      .where('id', '>', after)
      .where('address', 'like', '%://%')
      .orderBy('id')
      .limit(PAGE)
      .execute()
    for (const row of rows) {
      if (row.address === null || isSealed(row.address)) continue
      const sealed = seal.seal(row.address, deliveryAddressPlace(row.id))
      if (sealed === row.address) continue
      const result = await typed
        .updateTable(DELIVERY_TABLE)
        // A reason written before reasons were cleaned may quote the URL too.
        .set({
          address: sealed,
          last_error: row.last_error === null ? null : withoutAddress(row.last_error, row.address),
        })
        .where('id', '=', row.id)
        .where('address', '=', row.address)
        .executeTakeFirst()
      deliveries += Number(result.numUpdatedRows)
    }
    if (rows.length < PAGE) break
    after = (rows.at(-1) as { id: string }).id
  }
  let digestBatches = 0
  for (let after = ''; ; ) {
    const rows = await typed
      .selectFrom(DIGEST_BATCH_TABLE)
      .select(['id', 'recipient'])
      .where('id', '>', after)
      .where('recipient', 'like', '%://%')
      .orderBy('id')
      .limit(PAGE)
      .execute()
    for (const row of rows) {
      const recipient = JSON.parse(row.recipient) as Recipient
      let changed = false
      const routes = Object.fromEntries(
        Object.entries(recipient.routes ?? {}).map(([channel, address]) => {
          if (typeof address !== 'string' || isSealed(address)) return [channel, address]
          const sealed = seal.seal(address, digestRoutePlace(row.id, channel))
          changed ||= sealed !== address
          return [channel, sealed]
        }),
      )
      if (!changed) continue
      const result = await typed
        .updateTable(DIGEST_BATCH_TABLE)
        .set({ recipient: JSON.stringify({ ...recipient, routes }) })
        .where('id', '=', row.id)
        .where('recipient', '=', row.recipient)
        .executeTakeFirst()
      digestBatches += Number(result.numUpdatedRows)
    }
    if (rows.length < PAGE) break
    after = (rows.at(-1) as { id: string }).id
  }
  return { deliveries, digestBatches }
}
