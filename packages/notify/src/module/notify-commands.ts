import type { CliCommand, CliContext } from '@mortar/core'
import type { DeliveryRecord } from '../ledger/delivery-table.js'
import { ADDRESS_SEALING, DELIVERIES } from './notify-tokens.js'

/**
 * `mortar notify status`: deliveries by channel and status, possible duplicates and the digest
 * batches not gone out (open or orphaned), or with `--recipient <id>` that recipient's newest
 * deliveries and unsent digest batches; `--json` for scripts.
 */
const status: CliCommand = {
  name: 'notify status',
  summary: 'deliveries by channel and status, or one recipient’s (--recipient <id>); --json',
  usage: '[--recipient <id>] [--json]',
  async run({ app, args, stdout, stderr }: CliContext) {
    const json = args.includes('--json')
    const at = args.indexOf('--recipient')
    const recipient = at === -1 ? undefined : args[at + 1]
    const known = new Set(['--json', '--recipient'])
    const unknown = args.filter((arg, i) => !known.has(arg) && !(at !== -1 && i === at + 1))
    if (
      (at !== -1 && (recipient === undefined || recipient.startsWith('--'))) ||
      unknown.length > 0
    ) {
      stderr('Usage: mortar notify status [--recipient <id>] [--json]')
      return 2
    }
    const deliveries = app.resolve(DELIVERIES)
    if (recipient !== undefined) {
      const [rows, digests] = await Promise.all([
        deliveries.list(recipient, { limit: 100 }),
        deliveries.digests(recipient),
      ])
      if (json) stdout(JSON.stringify({ deliveries: rows, digests }))
      else if (rows.length === 0 && digests.length === 0) stdout(`No deliveries for ${recipient}.`)
      else {
        for (const row of rows) stdout(deliveryLine(row))
        for (const batch of digests) {
          stdout(
            `${batch.closesAt.toISOString()}  ${batch.id}  digest ${batch.digestKey}  ${batch.status}  items ${batch.items}${batch.status === 'orphaned' ? `  ${ORPHANED}` : ''}`,
          )
        }
      }
      return 0
    }
    const report = await deliveries.status()
    if (json) {
      stdout(JSON.stringify(report))
      return 0
    }
    if (report.counts.length === 0 && report.digests.length === 0) {
      stdout('No deliveries.')
      return 0
    }
    if (report.counts.length > 0) {
      const width = Math.max(7, ...report.counts.map((row) => row.channel.length))
      stdout(`${'channel'.padEnd(width)}  ${'status'.padEnd(10)}  count`)
      for (const row of report.counts) {
        stdout(`${row.channel.padEnd(width)}  ${row.status.padEnd(10)}  ${row.count}`)
      }
    }
    for (const row of report.possibleDuplicates) {
      if (row.count > 0) stdout(`possible duplicates on ${row.channel}: ${row.count}`)
    }
    if (report.digests.length > 0) {
      const width = Math.max(6, ...report.digests.map((row) => row.digestKey.length))
      stdout(`${'digest'.padEnd(width)}  ${'status'.padEnd(10)}  batches  items`)
      for (const row of report.digests) {
        stdout(
          `${row.digestKey.padEnd(width)}  ${row.status.padEnd(10)}  ${String(row.batches).padEnd(7)}  ${row.items}`,
        )
      }
      if (report.digests.some((row) => row.status === 'orphaned')) stdout(ORPHANED)
    }
    return 0
  },
}

/** `mortar notify replay <id…|all-dead>`: queues dead deliveries again. */
const replay: CliCommand = {
  name: 'notify replay',
  summary: 'queue dead deliveries again',
  usage: '<delivery id…|all-dead>',
  async run({ app, args, stdout, stderr }: CliContext) {
    if (args.length === 0 || args.some((arg) => arg.startsWith('--'))) {
      stderr('Usage: mortar notify replay <delivery id…|all-dead>')
      return 2
    }
    const ids = args.length === 1 && args[0] === 'all-dead' ? 'all-dead' : args
    const count = await app.resolve(DELIVERIES).replay(ids)
    stdout(`Replayed ${count} ${count === 1 ? 'delivery' : 'deliveries'}.`)
    return 0
  },
}

/**
 * `mortar notify seal-addresses`: seals the webhook and chat URLs that rows written before the
 * module had a `vault` hold in plaintext. Run it once after adding the vault; safe to run again.
 */
const sealAddresses: CliCommand = {
  name: 'notify seal-addresses',
  summary: 'encrypt the webhook and chat URLs older rows hold in plaintext (needs the vault)',
  usage: '',
  async run({ app, args, stdout, stderr }: CliContext) {
    if (args.length > 0) {
      stderr('Usage: mortar notify seal-addresses')
      return 2
    }
    const sealed = await app.resolve(ADDRESS_SEALING).sealStored()
    stdout(
      `Sealed the address of ${sealed.deliveries} ${sealed.deliveries === 1 ? 'delivery' : 'deliveries'} and the routes of ${sealed.digestBatches} digest ${sealed.digestBatches === 1 ? 'batch' : 'batches'}.`,
    )
    return 0
  },
}

const ORPHANED =
  'orphaned: closed unsent, its digest is not registered; register it in notifyModule({ digests }) and the items go out with the next batch'

function deliveryLine(row: DeliveryRecord): string {
  const error = row.lastError === undefined ? '' : `  ${row.lastError}`
  return `${row.createdAt.toISOString()}  ${row.id}  ${row.type}  ${row.channel}  ${row.status}  attempts ${row.attempts}${error}`
}

/** The `mortar` commands of the notify module. */
export const notifyCommands: readonly CliCommand[] = [status, replay, sealAddresses]
