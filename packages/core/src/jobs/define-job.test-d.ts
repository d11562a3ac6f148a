// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import { expressionBuilder } from 'kysely'
import { z } from 'zod'
import { defineModule } from '../app/define-module.js'
import { defineJob } from './define-job.js'
import type { JobQueue } from './job-queue.js'
import { enqueue } from './running-queues.js'

const sendReceipt = defineJob({
  name: 'shop.send-receipt',
  schema: z.object({ orderId: z.string(), copies: z.number().default(1) }),
  async handler(payload, job) {
    // The handler gets the schema's output: defaults applied.
    const copies: number = payload.copies
    const id: string = job.id
    void copies
    void id
  },
})
const reindex = defineJob({
  name: 'search.reindex',
  schema: z.object({ from: z.number() }),
  handler() {},
})

declare const jobs: JobQueue

export async function accepted(): Promise<void> {
  // The payload is the schema's input: a field with a default may be left out.
  await jobs.enqueue(sendReceipt, { orderId: 'o-1' })
  await jobs.enqueue(sendReceipt, { orderId: 'o-1', copies: 2 }, { delay: 5_000, key: 'o-1' })
  await jobs.enqueue(sendReceipt, { orderId: 'o-1' }, { runAt: new Date() })
  await jobs.enqueueMany(reindex, [
    { payload: { from: 0 } },
    { payload: { from: 10 }, options: { key: 'x' } },
  ])
  const id: string | undefined = await enqueue(reindex, { from: 1 })
  void id
  defineModule({ name: 'shop', register() {}, jobs: [sendReceipt, reindex] })
}

export async function rejected(): Promise<void> {
  // @ts-expect-error orderId must be a string
  await jobs.enqueue(sendReceipt, { orderId: 1 })
  // @ts-expect-error a payload without the required field
  await jobs.enqueue(sendReceipt, {})
  // @ts-expect-error delay and runAt are either/or
  await jobs.enqueue(sendReceipt, { orderId: 'o-1' }, { delay: 1, runAt: new Date() })
  // @ts-expect-error the payload of another job
  await enqueue(reindex, { orderId: 'o-1' })
  // @ts-expect-error every item is checked against the job's schema
  await jobs.enqueueMany(reindex, [{ payload: { from: 'zero' } }])
  defineJob({
    name: 'bad',
    schema: z.object({ n: z.number() }),
    // @ts-expect-error the handler's payload is the schema's output
    handler(payload: { n: string }) {
      void payload
    },
  })
  defineJob({
    name: 'bad',
    schema: z.object({ n: z.number() }),
    handler() {},
    // @ts-expect-error onDead may get no payload (one its schema no longer takes)
    onDead(payload: { n: number }) {
      void payload
    },
  })
  defineJob({
    name: 'good',
    schema: z.object({ n: z.number() }),
    handler() {},
    onDead(payload, job) {
      const n: number | undefined = payload?.n
      const code: string | undefined = job.error.code
      void [n, code]
    },
  })
}

export function prepared(): void {
  defineJob({
    name: 'good',
    schema: z.object({ id: z.string() }),
    prepare: async (payloads) => payloads.map((payload) => ({ row: payload.id })),
    handler(_payload, _job, prepared) {
      // The handler gets what prepare gave for its payload.
      const row: string = prepared.row
      void row
    },
  })
  defineJob({
    name: 'good',
    schema: z.object({ id: z.string() }),
    handler(_payload, _job, prepared) {
      // Without prepare, nothing.
      const none: undefined = prepared
      void none
    },
  })
  defineJob({
    name: 'bad',
    schema: z.object({ id: z.string() }),
    prepare: async (payloads) => payloads.map((payload) => payload.id),
    handler(_payload, _job, prepared) {
      // @ts-expect-error prepare gave strings
      const n: number = prepared
      void n
    },
  })
}

interface ClaimTables {
  orders: { id: string; total: number }
}
const orders = expressionBuilder<ClaimTables, never>()

export function claimRead(): void {
  defineJob({
    name: 'good',
    schema: z.object({ orderId: z.string(), n: z.number() }),
    claimRead: {
      key: 'orderId',
      select: (id) => orders.selectFrom('orders').select(['id', 'total']).where('id', '=', id),
    },
    prepare: async (payloads, _batch, carried) => {
      // What the claim carried, typed from the read: a row or null each, or nothing at all.
      const totals: number[] | undefined = carried?.map((row) => row?.total ?? 0)
      return payloads.map((_, i) => totals?.[i] ?? 0)
    },
    handler(_payload, _job, total) {
      const n: number = total
      void n
    },
  })
  const schema = z.object({ orderId: z.string(), n: z.number() })
  defineJob<typeof schema, number, { total: number }>({
    name: 'bad',
    schema,
    claimRead: {
      // @ts-expect-error the key must be a string field of the payload
      key: 'n',
      select: (id) => orders.selectFrom('orders').select('total').where('id', '=', id),
    },
    prepare: async (payloads) => payloads.map(() => 0),
    handler() {},
  })
  defineJob({
    name: 'bad',
    schema: z.object({ orderId: z.string() }),
    claimRead: {
      key: 'orderId',
      select: (id) => orders.selectFrom('orders').select('total').where('id', '=', id),
    },
    prepare: async (payloads, _batch, carried) => {
      // @ts-expect-error the read selects only total
      const ids: string[] | undefined = carried?.map((row) => row?.id ?? '')
      return payloads.map(() => ids)
    },
    handler() {},
  })
}
