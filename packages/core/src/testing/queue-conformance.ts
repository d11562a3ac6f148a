import { AssertionError, deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import type { AttemptError, NewJob, QueueAdapter } from '../jobs/queue-adapter.js'
import type { VitestApi } from './vitest-api.js'

/** What a conformance setup returns: a fresh, empty adapter and how to release it. */
export interface QueueSubject {
  readonly adapter: QueueAdapter
  /**
   * Runs `fn` in a transaction of the database the adapter enqueues into, rolling back when it
   * throws; give it for adapters whose enqueue joins the app's transactions (all of Mortar's do).
   */
  readonly transaction?: <R>(fn: () => Promise<R>) => Promise<R>
  /** Runs after the case: drop the schema, delete the keys, close clients. */
  dispose?(): void | Promise<void>
}

/** One check of the kit: a title stating the rule, and the check itself (throws when broken). */
export interface QueueConformanceCase {
  readonly title: string
  run(subject: QueueSubject): Promise<void>
}

const T0 = Date.UTC(2026, 0, 1)
const LEASE = 30_000
const A = 'conformance.a'
const B = 'conformance.b'

function job(overrides: Partial<NewJob> = {}): NewJob {
  return {
    name: A,
    payload: JSON.stringify({ n: 1 }),
    runAtMs: T0,
    createdAtMs: T0,
    maxAttempts: 3,
    key: undefined,
    ...overrides,
  }
}

function failure(attempt: number, message = 'boom'): AttemptError {
  return { attempt, at: new Date(T0).toISOString(), name: 'Error', message }
}

function claim(adapter: QueueAdapter, worker: string, nowMs = T0, limit = 10, names = [A, B]) {
  return adapter.claim({ worker, names, limit, nowMs, leaseUntilMs: nowMs + LEASE })
}

/** Enqueues and makes the jobs visible to workers, as the queue does after a commit. */
async function add(adapter: QueueAdapter, jobs: readonly NewJob[]) {
  const ids = await adapter.enqueue(jobs)
  await adapter.announce?.()
  return ids
}

function defined(id: string | undefined): string {
  ok(id !== undefined, 'enqueue returned no id for a job without a duplicate key')
  return id
}

/**
 * The rules every {@link QueueAdapter} keeps, as plain checks (they throw an `AssertionError`
 * when a rule is broken), so a test runner can run them, and a test can show that a broken
 * adapter fails them. {@link queueConformance} registers them with vitest.
 */
export const queueConformanceCases: readonly QueueConformanceCase[] = [
  {
    title: 'hands an enqueued job to one worker, with its payload and attempt 1',
    async run({ adapter }) {
      const [id] = await add(adapter, [job({ payload: '{"n":7}' })])
      const claimed = await claim(adapter, 'w1')
      deepStrictEqual(
        claimed.map((c) => ({ ...c })),
        [{ id: defined(id), name: A, payload: '{"n":7}', attempt: 1, maxAttempts: 3 }],
      )
      deepStrictEqual(await claim(adapter, 'w2'), [])
    },
  },
  {
    title: 'claims only the names asked for, at most the limit, the earliest due first',
    async run({ adapter }) {
      const ids = await add(adapter, [
        job({ runAtMs: T0 - 10 }),
        job({ name: B, runAtMs: T0 - 30 }),
        job({ runAtMs: T0 - 20 }),
        job({ runAtMs: T0 - 5 }),
      ])
      const first = await claim(adapter, 'w1', T0, 2, [A])
      deepStrictEqual(
        first.map((c) => c.id).sort(),
        [ids[2], ids[0]].map((id) => defined(id)).sort(),
      )
      deepStrictEqual(
        (await claim(adapter, 'w1', T0, 10, [A])).map((c) => c.id),
        [defined(ids[3])],
      )
      deepStrictEqual(
        (await claim(adapter, 'w1', T0, 10, [B])).map((c) => c.id),
        [defined(ids[1])],
      )
    },
  },
  {
    title: 'keeps a job until its time (delay, runAt)',
    async run({ adapter }) {
      const [id] = await add(adapter, [job({ runAtMs: T0 + 60_000 })])
      deepStrictEqual(await claim(adapter, 'w1', T0), [])
      strictEqual((await adapter.get(defined(id), T0))?.state, 'scheduled')
      deepStrictEqual(
        (await claim(adapter, 'w1', T0 + 60_000)).map((c) => c.id),
        [defined(id)],
      )
    },
  },
  {
    title: 'deletes a completed job, and only the worker holding it can complete it',
    async run({ adapter }) {
      const [id] = await add(adapter, [job()])
      await claim(adapter, 'w1')
      deepStrictEqual(await adapter.complete('w2', [defined(id)]), [])
      strictEqual((await adapter.get(defined(id), T0))?.state, 'running')
      deepStrictEqual(await adapter.complete('w1', [defined(id)]), [defined(id)])
      strictEqual(await adapter.get(defined(id), T0), undefined)
      deepStrictEqual(await claim(adapter, 'w2', T0 + 10 * LEASE), [])
    },
  },
  {
    title: 'gives a job whose lease expired to another worker, and ignores the first one after',
    async run({ adapter }) {
      const [id] = await add(adapter, [job()])
      await claim(adapter, 'w1')
      deepStrictEqual(await claim(adapter, 'w2', T0 + LEASE - 1), [])
      strictEqual((await adapter.get(defined(id), T0 + LEASE))?.state, 'stalled')
      const again = await claim(adapter, 'w2', T0 + LEASE)
      deepStrictEqual(
        again.map((c) => [c.id, c.attempt]),
        [[defined(id), 2]],
      )
      deepStrictEqual(await adapter.complete('w1', [defined(id)]), [])
      strictEqual(
        await adapter.fail('w1', defined(id), failure(1), { retryAtMs: T0 }),
        false,
        'a worker that lost the lease recorded a failure',
      )
      strictEqual(await adapter.progress('w1', defined(id), 0.5), false)
      await adapter.release('w1', [defined(id)], T0 + LEASE)
      await adapter.renew('w1', [defined(id)], T0 + 100 * LEASE)
      const held = await adapter.get(defined(id), T0 + LEASE)
      strictEqual(held?.worker, 'w2')
      strictEqual(held?.runAt.getTime(), T0 + 2 * LEASE)
      deepStrictEqual(await adapter.complete('w2', [defined(id)]), [defined(id)])
    },
  },
  {
    title: 'extends a lease on renew, so the job is not taken over',
    async run({ adapter }) {
      const [id] = await add(adapter, [job()])
      await claim(adapter, 'w1')
      await adapter.renew('w1', [defined(id)], T0 + 3 * LEASE)
      deepStrictEqual(await claim(adapter, 'w2', T0 + 2 * LEASE), [])
      strictEqual((await adapter.get(defined(id), T0 + 2 * LEASE))?.state, 'running')
      strictEqual((await claim(adapter, 'w2', T0 + 3 * LEASE)).length, 1)
    },
  },
  {
    title: 'retries a failed attempt at its time and keeps every error when the job dies',
    async run({ adapter }) {
      const [id] = await add(adapter, [job({ maxAttempts: 2 })])
      await claim(adapter, 'w1')
      strictEqual(
        await adapter.fail('w1', defined(id), failure(1, 'first'), { retryAtMs: T0 + 5_000 }),
        true,
      )
      const waiting = await adapter.get(defined(id), T0)
      strictEqual(waiting?.state, 'scheduled')
      deepStrictEqual(await claim(adapter, 'w1', T0 + 4_999), [])
      const second = await claim(adapter, 'w1', T0 + 5_000)
      strictEqual(second[0]?.attempt, 2)
      strictEqual(
        await adapter.fail('w1', defined(id), failure(2, 'second'), { deadAtMs: T0 + 5_000 }),
        true,
      )
      const dead = await adapter.get(defined(id), T0 + 5_000)
      strictEqual(dead?.state, 'dead')
      strictEqual(dead?.deadAt?.getTime(), T0 + 5_000)
      deepStrictEqual(
        dead?.errors.map((e) => [e.attempt, e.message]),
        [
          [1, 'first'],
          [2, 'second'],
        ],
      )
      deepStrictEqual(await claim(adapter, 'w1', T0 + 100 * LEASE), [])
    },
  },
  {
    title: 'retries dead jobs by id or all of them, with fresh attempts',
    async run({ adapter }) {
      const ids = (await add(adapter, [job(), job(), job()])).map(defined)
      await claim(adapter, 'w1')
      for (const id of ids) await adapter.fail('w1', id, failure(1), { deadAtMs: T0 })
      strictEqual(await adapter.retry([defined(ids[0])], T0), 1)
      const back = await claim(adapter, 'w2', T0)
      deepStrictEqual(
        back.map((c) => [c.id, c.attempt]),
        [[ids[0], 1]],
      )
      strictEqual(await adapter.retry('all', T0), 2)
      strictEqual((await claim(adapter, 'w2', T0)).length, 2)
      strictEqual(await adapter.retry('all', T0), 0)
    },
  },
  {
    title: 'gives released jobs back at once without counting the attempt',
    async run({ adapter }) {
      const [id] = await add(adapter, [job()])
      await claim(adapter, 'w1')
      await adapter.release('w1', [defined(id)], T0 + 1)
      const again = await claim(adapter, 'w2', T0 + 1)
      deepStrictEqual(
        again.map((c) => [c.id, c.attempt]),
        [[defined(id), 1]],
      )
    },
  },
  {
    title: 'keeps one live job per key: duplicates dropped until it finishes or dies',
    async run({ adapter }) {
      const [first, duplicate] = await add(adapter, [job({ key: 'k1' }), job({ key: 'k1' })])
      ok(first !== undefined, 'the first job of a key was dropped')
      strictEqual(duplicate, undefined)
      strictEqual((await add(adapter, [job({ key: 'k1' })]))[0], undefined)
      await claim(adapter, 'w1')
      strictEqual(
        (await add(adapter, [job({ key: 'k1' })]))[0],
        undefined,
        'a running job lost its key',
      )
      await adapter.complete('w1', [first])
      const [second] = await add(adapter, [job({ key: 'k1' })])
      ok(second !== undefined, 'a finished job still held its key')
      await claim(adapter, 'w1')
      await adapter.fail('w1', second, failure(1), { deadAtMs: T0 })
      const [third] = await add(adapter, [job({ key: 'k1' })])
      ok(third !== undefined, 'a dead job still held its key')
      strictEqual(
        await adapter.retry([second], T0),
        0,
        'a dead job came back beside a live one with its key',
      )
    },
  },
  {
    title: 'returns ids in input order from a batch, duplicates as undefined',
    async run({ adapter }) {
      const ids = await add(adapter, [
        job({ payload: '{"n":0}' }),
        job({ payload: '{"n":1}', key: 'batch' }),
        job({ payload: '{"n":2}' }),
        job({ payload: '{"n":3}', key: 'batch' }),
        job({ payload: '{"n":4}', key: 'other' }),
      ])
      strictEqual(ids.length, 5)
      strictEqual(ids[3], undefined)
      for (const index of [0, 1, 2, 4]) {
        const info = await adapter.get(defined(ids[index]), T0)
        deepStrictEqual(info?.payload, { n: index })
      }
    },
  },
  {
    title: 'stores progress for the worker holding the job',
    async run({ adapter }) {
      const [id] = await add(adapter, [job()])
      await claim(adapter, 'w1')
      strictEqual(await adapter.progress('w1', defined(id), { step: 2, of: 3 }), true)
      const running = await adapter.list({ state: 'running', limit: 10, nowMs: T0 })
      deepStrictEqual(
        running.map((r) => [r.id, r.progress]),
        [[defined(id), { step: 2, of: 3 }]],
      )
    },
  },
  {
    title: 'counts and lists jobs by state',
    async run({ adapter }) {
      const [pending, scheduled, running, dead] = (
        await add(adapter, [
          job(),
          job({ runAtMs: T0 + 1_000 }),
          job({ name: B }),
          job({ name: B }),
        ])
      ).map(defined)
      await claim(adapter, 'w1', T0, 10, [B])
      await adapter.fail('w1', defined(dead), failure(1), { deadAtMs: T0 })
      const counts = (await adapter.counts(T0)).map((c) => `${c.name}:${c.state}:${c.count}`).sort()
      deepStrictEqual(counts, [
        `${A}:pending:1`,
        `${A}:scheduled:1`,
        `${B}:dead:1`,
        `${B}:running:1`,
      ])
      for (const [state, id] of [
        ['pending', pending],
        ['scheduled', scheduled],
        ['running', running],
        ['dead', dead],
      ] as const) {
        deepStrictEqual(
          (await adapter.list({ state, limit: 10, nowMs: T0 })).map((info) => info.id),
          [id],
        )
      }
      deepStrictEqual(
        (await adapter.list({ name: B, limit: 10, nowMs: T0 })).map((info) => info.id).sort(),
        [running, dead].sort(),
      )
    },
  },
  {
    title: 'purges dead jobs, and waiting ones when asked, never running ones',
    async run({ adapter }) {
      const [, , running, dead] = (
        await add(adapter, [
          job(),
          job({ runAtMs: T0 + 1_000 }),
          job({ name: B }),
          job({ name: B }),
        ])
      ).map(defined)
      await claim(adapter, 'w1', T0, 10, [B])
      await adapter.fail('w1', defined(dead), failure(1), { deadAtMs: T0 })
      strictEqual(await adapter.purge(['dead'], T0), 1)
      strictEqual(await adapter.purge(['pending', 'scheduled'], T0), 2)
      deepStrictEqual(
        (await adapter.list({ limit: 10, nowMs: T0 })).map((info) => info.id),
        [running],
      )
    },
  },
  {
    title: 'never hands one job to two workers claiming at once',
    async run({ adapter }) {
      const jobs = Array.from({ length: 200 }, (_, n) => job({ payload: JSON.stringify({ n }) }))
      const ids = (await add(adapter, jobs)).map(defined)
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, w) => claim(adapter, `w${w}`, T0, 40)),
      )
      const claimed = claims.flat().map((c) => c.id)
      strictEqual(new Set(claimed).size, claimed.length, 'a job was claimed twice')
      const rest = await claim(adapter, 'w9', T0, 400)
      deepStrictEqual([...claimed, ...rest.map((c) => c.id)].sort(), [...ids].sort())
    },
  },
  {
    title: 'enqueues inside a transaction only when it commits',
    async run({ adapter, transaction }) {
      if (transaction === undefined) return
      await transaction(async () => {
        await adapter.enqueue([job({ payload: '{"n":"rolled back"}' })])
        throw new RollbackSignal()
      }).catch((error: unknown) => {
        if (!(error instanceof RollbackSignal)) throw error
      })
      await adapter.announce?.()
      deepStrictEqual(
        await claim(adapter, 'w1'),
        [],
        'a job enqueued in a rolled-back transaction ran',
      )
      await transaction(async () => {
        await adapter.enqueue([job({ payload: '{"n":"committed"}' })])
      })
      await adapter.announce?.()
      const claimed = await claim(adapter, 'w1')
      deepStrictEqual(
        claimed.map((c) => c.payload),
        ['{"n":"committed"}'],
      )
    },
  },
  {
    title: 'lets one of many concurrent claims of a schedule tick win, and enqueues its job once',
    async run({ adapter }) {
      const store = adapter.schedules
      if (store === undefined) return
      const row = { name: 'conformance.tick', spec: 'every 60000', nextAtMs: T0 }
      await store.register([row])
      await store.register([{ ...row, nextAtMs: T0 + 60_000 }])
      deepStrictEqual(await store.due([row.name], T0 - 1), [])
      deepStrictEqual(
        (await store.due([row.name], T0)).map((due) => due.nextAtMs),
        [T0],
        'registering again moved an existing schedule',
      )
      const wins = await Promise.all(
        Array.from({ length: 6 }, () =>
          store.claim(row, T0 + 60_000, () =>
            add(adapter, [job({ name: A, payload: '{"tick":1}' })]),
          ),
        ),
      )
      strictEqual(wins.filter(Boolean).length, 1, 'a tick fired more than once, or never')
      strictEqual((await claim(adapter, 'w1')).length, 1)
      deepStrictEqual(await store.due([row.name], T0 + 59_999), [])
      await store.register([{ ...row, spec: 'every 1000', nextAtMs: T0 + 1_000 }])
      deepStrictEqual(
        (await store.due([row.name], T0 + 1_000)).map((due) => due.nextAtMs),
        [T0 + 1_000],
        'a changed timing kept the old next tick',
      )
    },
  },
]

class RollbackSignal extends Error {}

/** Options of {@link queueConformance}. */
export interface QueueConformanceOptions {
  /** Set to skip the suite, with a one-line notice saying why (an unset variable, say). */
  readonly skip?: string | undefined
}

/**
 * Registers the {@link queueConformanceCases} as vitest tests, each on a fresh subject from
 * `setup`: leases, attempts, retries and death, keys, progress, states, concurrent claims and
 * transactions. Mortar's SQL queue (on every engine), BullMQ engine and inline queue run it;
 * run it on your adapter. The first argument is vitest itself (see {@link VitestApi}): the kit
 * does not import it, so this entry loads without vitest.
 *
 * @example
 * ```ts
 * import { queueConformance } from '@mortar/core/testing'
 * import * as vitest from 'vitest'
 * import { SqsQueue } from './sqs-queue.js'
 *
 * queueConformance(vitest, 'SqsQueue', async () => {
 *   const adapter = new SqsQueue({ queueUrl: await createTestQueue() })
 *   return { adapter, dispose: () => adapter.close() }
 * })
 * ```
 */
export function queueConformance(
  vitest: Pick<VitestApi, 'describe' | 'it'>,
  name: string,
  setup: () => QueueSubject | Promise<QueueSubject>,
  options: QueueConformanceOptions = {},
): void {
  const { describe, it } = vitest
  const skip = options.skip
  if (skip !== undefined)
    console.warn(`[@mortar/core] queue conformance on ${name} skipped: ${skip}`)
  // Skipped only when the caller's server is not configured (an unset MORTAR_TEST_* variable):
  // the reason is printed above and shown in the title; .ci/run sets every variable, so CI runs it.
  const title = `queue conformance: ${name}${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    for (const check of queueConformanceCases) {
      it(check.title, async () => {
        const subject = await setup()
        try {
          await check.run(subject)
        } finally {
          await subject.dispose?.()
        }
      })
    }
  })
}

/**
 * Runs every case on fresh subjects and returns the titles of those that failed, for a test
 * that shows a broken adapter is caught.
 */
export async function failingQueueConformanceCases(
  setup: () => QueueSubject | Promise<QueueSubject>,
): Promise<string[]> {
  const failed: string[] = []
  for (const check of queueConformanceCases) {
    const subject = await setup()
    try {
      await check.run(subject)
    } catch (error) {
      if (!(error instanceof AssertionError)) throw error
      failed.push(check.title)
    } finally {
      await subject.dispose?.()
    }
  }
  return failed
}
