import { AssertionError, deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import type { AttemptError, ClaimedJob, NewJob, QueueAdapter } from '../jobs/queue-adapter.js'
import { type ConformanceClock, realClock, simulatedClock } from './conformance-clock.js'
import type { VitestApi } from './vitest-api.js'

/** What a conformance setup returns: a fresh, empty adapter and how to release it. */
export interface QueueSubject {
  readonly adapter: QueueAdapter
  /**
   * Runs `fn` in a transaction of an app database, rolling back when it throws
   * (`(fn) => database.transaction(fn)`). Required: an `enqueue` inside a transaction belongs to
   * it on every engine, one outside the app's database included (through `afterCommit`), so the
   * kit checks that a rolled-back enqueue never runs.
   */
  readonly transaction: <R>(fn: () => Promise<R>) => Promise<R>
  /**
   * For an engine that lives in the caller's process (the inline queue), whose one clock is its
   * callers': it keeps time by the `nowMs` each call carries, so the kit moves a simulated clock
   * instead of waiting, and leaves out the checks of skewed workers, which one process cannot
   * have. Any engine shared by processes keeps time by its own clock (its server's): the kit runs
   * it on the real clock, with leases of {@link QueueSubject.leaseMs}, waits out each delay (a
   * few leases), and checks that a worker whose clock is an hour off changes nothing.
   */
  readonly inProcess?: true
  /** Leases on the real clock, in ms (1,000 by default). */
  readonly leaseMs?: number
  /** Runs after the case: drop the schema, delete the keys, close clients. */
  dispose?(): void | Promise<void>
}

/** One check of the kit: a title stating the rule, and the check itself (throws when broken). */
export interface QueueConformanceCase {
  readonly title: string
  run(subject: QueueSubject): Promise<void>
}

const A = 'conformance.a'
const B = 'conformance.b'

function job(t: ConformanceClock, overrides: Partial<NewJob> = {}): NewJob {
  return {
    name: A,
    payload: JSON.stringify({ n: 1 }),
    runAtMs: t.now(),
    createdAtMs: t.now(),
    maxAttempts: 3,
    key: undefined,
    ...overrides,
  }
}

function failure(t: ConformanceClock, attempt: number, message = 'boom'): AttemptError {
  return { attempt, at: new Date(t.now()).toISOString(), name: 'Error', message }
}

function claim(
  adapter: QueueAdapter,
  t: ConformanceClock,
  worker: string,
  limit = 10,
  names = [A, B],
) {
  return claimAt(adapter, t.now(), t.lease, worker, limit, names)
}

/** A claim by a worker whose clock reads `nowMs`. */
function claimAt(
  adapter: QueueAdapter,
  nowMs: number,
  leaseMs: number,
  worker: string,
  limit = 10,
  names = [A, B],
) {
  return adapter.claim({ worker, names, limit, nowMs, leaseMs })
}

// How far the skewed workers' clocks are off.
const HOUR = 3_600_000

/** Claims until a job comes: on the real clock the engine frees jobs on its own timers. */
function claimOnce(adapter: QueueAdapter, t: ConformanceClock, worker: string) {
  return t.settle(
    () => claim(adapter, t, worker),
    (claimed) => claimed.length > 0,
  )
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

/** A setup written before `transaction` was required (or in plain JS) must not pass unchecked. */
function withTransaction(transaction: QueueSubject['transaction'] | undefined) {
  ok(
    typeof transaction === 'function',
    'the setup returned no transaction: return `transaction: (fn) => database.transaction(fn)` (a `Database` from @mortar/core), so the kit can check that a rolled-back enqueue never runs',
  )
}

interface Check {
  readonly title: string
  /** Only for engines shared by processes: one process has one clock, which no worker skews. */
  readonly shared?: true
  run(subject: QueueSubject, t: ConformanceClock): Promise<void>
}

const checks: readonly Check[] = [
  {
    title: 'hands an enqueued job to one worker, with its payload and attempt 1',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t, { payload: '{"n":7}' })])
      const claimed = await claim(adapter, t, 'w1')
      deepStrictEqual(
        claimed.map((c) => ({ ...c })),
        [{ id: defined(id), name: A, payload: '{"n":7}', attempt: 1, maxAttempts: 3 }],
      )
      deepStrictEqual(await claim(adapter, t, 'w2'), [])
    },
  },
  {
    title: 'claims only the names asked for, at most the limit, the earliest due first',
    async run({ adapter }, t) {
      const now = t.now()
      const ids = await add(adapter, [
        job(t, { runAtMs: now - 10 }),
        job(t, { name: B, runAtMs: now - 30 }),
        job(t, { runAtMs: now - 20 }),
        job(t, { runAtMs: now - 5 }),
      ])
      const first = await claim(adapter, t, 'w1', 2, [A])
      deepStrictEqual(
        first.map((c) => c.id).sort(),
        [ids[2], ids[0]].map((id) => defined(id)).sort(),
      )
      deepStrictEqual(
        (await claim(adapter, t, 'w1', 10, [A])).map((c) => c.id),
        [defined(ids[3])],
      )
      deepStrictEqual(
        (await claim(adapter, t, 'w1', 10, [B])).map((c) => c.id),
        [defined(ids[1])],
      )
    },
  },
  {
    title: 'keeps a job until its time (runAt)',
    async run({ adapter }, t) {
      const runAt = t.now() + 2 * t.lease
      const [id] = await add(adapter, [job(t, { runAtMs: runAt })])
      await t.almost(runAt)
      deepStrictEqual(await claim(adapter, t, 'w1'), [])
      strictEqual((await adapter.get(defined(id), t.now()))?.state, 'scheduled')
      await t.reach(runAt)
      deepStrictEqual(
        (await claimOnce(adapter, t, 'w1')).map((c) => c.id),
        [defined(id)],
      )
    },
  },
  {
    title: 'deletes a completed job, and only the worker holding it can complete it',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t)])
      const leaseEnd = t.now() + t.lease
      await claim(adapter, t, 'w1')
      deepStrictEqual(await adapter.complete('w2', [defined(id)]), [])
      strictEqual((await adapter.get(defined(id), t.now()))?.state, 'running')
      deepStrictEqual(await adapter.complete('w1', [defined(id)]), [defined(id)])
      strictEqual(await adapter.get(defined(id), t.now()), undefined)
      await t.reach(leaseEnd)
      deepStrictEqual(await claim(adapter, t, 'w2'), [])
    },
  },
  {
    title: 'gives a job whose lease expired to another worker, and ignores the first one after',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t)])
      const leaseEnd = t.now() + t.lease
      await claim(adapter, t, 'w1')
      await t.almost(leaseEnd)
      deepStrictEqual(await claim(adapter, t, 'w2'), [])
      await t.reach(leaseEnd)
      const lapsed = await t.settle(
        () => adapter.get(defined(id), t.now()),
        (info) => info?.state !== 'running',
      )
      // Stalled until the next claim; an engine that takes lapsed jobs back by itself (BullMQ's
      // stalled-job check) may already show it pending.
      ok(
        lapsed?.state === 'stalled' || lapsed?.state === 'pending',
        `a job whose lease expired is ${lapsed?.state}`,
      )
      let takenAt = 0
      const again = await t.settle(
        () => {
          takenAt = t.now()
          return claim(adapter, t, 'w2')
        },
        (claimed) => claimed.length > 0,
      )
      deepStrictEqual(
        again.map((c) => [c.id, c.attempt]),
        [[defined(id), 2]],
      )
      deepStrictEqual(await adapter.complete('w1', [defined(id)]), [])
      strictEqual(
        await adapter.fail('w1', defined(id), failure(t, 1), { retryInMs: 0 }, t.now()),
        false,
        'a worker that lost the lease recorded a failure',
      )
      strictEqual(await adapter.progress('w1', defined(id), 0.5), false)
      await adapter.release('w1', [defined(id)], t.now())
      await adapter.renew('w1', [defined(id)], 100 * t.lease, t.now())
      const held = await adapter.get(defined(id), t.now())
      strictEqual(held?.worker, 'w2')
      t.near(held?.runAt.getTime(), takenAt + t.lease, "the first worker moved the second's lease")
      deepStrictEqual(await adapter.complete('w2', [defined(id)]), [defined(id)])
    },
  },
  {
    title: 'extends a lease on renew, so the job is not taken over',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t)])
      const claimedAt = t.now()
      await claim(adapter, t, 'w1')
      await adapter.renew('w1', [defined(id)], 3 * t.lease, t.now())
      await t.reach(claimedAt + 2 * t.lease)
      deepStrictEqual(await claim(adapter, t, 'w2'), [])
      strictEqual((await adapter.get(defined(id), t.now()))?.state, 'running')
      await t.reach(claimedAt + 3 * t.lease)
      strictEqual((await claimOnce(adapter, t, 'w2')).length, 1)
    },
  },
  {
    // A claim that reads its rows back by worker and lease end (MariaDB has no UPDATE …
    // RETURNING) would also get the job the heartbeat just renewed to that same end.
    title: 'gives a worker claiming again only jobs it does not hold, at the same lease end too',
    async run({ adapter }, t) {
      const ids = (await add(adapter, [job(t), job(t)])).map(defined)
      const [first] = await claim(adapter, t, 'w1', 1)
      const held = defined(first?.id)
      await adapter.renew('w1', [held], t.lease, t.now())
      const again = await claim(adapter, t, 'w1')
      deepStrictEqual([held, ...again.map((c) => c.id)].sort(), [...ids].sort())
    },
  },
  {
    title: 'retries a failed attempt at its time and keeps every error when the job dies',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t, { maxAttempts: 2 })])
      await claim(adapter, t, 'w1')
      const retryAt = t.now() + t.lease
      strictEqual(
        await adapter.fail(
          'w1',
          defined(id),
          failure(t, 1, 'first'),
          { retryInMs: t.lease },
          t.now(),
        ),
        true,
      )
      const waiting = await adapter.get(defined(id), t.now())
      strictEqual(waiting?.state, 'scheduled')
      await t.almost(retryAt)
      deepStrictEqual(await claim(adapter, t, 'w1'), [])
      await t.reach(retryAt)
      const second = await claimOnce(adapter, t, 'w1')
      strictEqual(second[0]?.attempt, 2)
      const diedAt = t.now()
      strictEqual(
        await adapter.fail('w1', defined(id), failure(t, 2, 'second'), { dead: true }, t.now()),
        true,
      )
      const dead = await adapter.get(defined(id), t.now())
      strictEqual(dead?.state, 'dead')
      t.near(dead?.deadAt?.getTime(), diedAt, 'the job died at another time')
      deepStrictEqual(
        dead?.errors.map((e) => [e.attempt, e.message]),
        [
          [1, 'first'],
          [2, 'second'],
        ],
      )
      await t.reach(diedAt + t.lease)
      deepStrictEqual(await claim(adapter, t, 'w1'), [])
    },
  },
  {
    title: 'judges leases by its own clock: a worker whose clock is an hour off takes no held job',
    shared: true,
    async run({ adapter }, t) {
      const ids = (await add(adapter, [job(t), job(t)])).map(defined)
      // An hour ahead, the first lease looks long over; an hour behind, its own looks over.
      deepStrictEqual((await claimAt(adapter, t.now(), t.lease, 'w1', 1)).length, 1)
      deepStrictEqual((await claimAt(adapter, t.now() - HOUR, t.lease, 'w2', 1)).length, 1)
      deepStrictEqual(
        await claimAt(adapter, t.now() + HOUR, t.lease, 'w3'),
        [],
        'a worker whose clock runs an hour ahead took a job another worker holds',
      )
      deepStrictEqual(
        await claim(adapter, t, 'w4'),
        [],
        'a lease taken by a worker whose clock runs an hour behind had already ended',
      )
      await adapter.renew('w2', [defined(ids[1])], t.lease, t.now() - HOUR)
      deepStrictEqual(
        await claim(adapter, t, 'w4'),
        [],
        'a lease renewed by a worker whose clock runs an hour behind had already ended',
      )
      const leaseEnd = t.now() + t.lease
      await adapter.renew('w1', [defined(ids[0])], t.lease, t.now() + HOUR)
      await t.reach(leaseEnd)
      // Collected over the reads: w2's lease ends a moment before w1's, so a read between the
      // two ends takes one job alone.
      const lapsed: ClaimedJob[] = []
      await t.settle(
        async () => {
          lapsed.push(...(await claim(adapter, t, 'w4')))
          return lapsed
        },
        (claimed) => claimed.length === 2,
      )
      deepStrictEqual(
        lapsed.map((c) => c.id).sort(),
        [...ids].sort(),
        'a lease renewed by a worker whose clock runs an hour ahead outlived its length',
      )
    },
  },
  {
    title: 'times due jobs by its own clock: delays, retries and releases of skewed workers',
    shared: true,
    async run({ adapter }, t) {
      const ahead = t.now() + HOUR
      const delayed = (nowMs: number, delayMs: number, name: string) =>
        job(t, { name, runAtMs: nowMs + delayMs, delayMs, createdAtMs: nowMs })
      const earlyAt = t.now() + 2 * t.lease
      const ids = await add(adapter, [
        delayed(ahead, 0, A),
        delayed(t.now() - HOUR, 2 * t.lease, B),
      ])
      const late = defined(ids[0])
      const early = defined(ids[1])
      deepStrictEqual(
        (await claim(adapter, t, 'w1', 1)).map((c) => c.id),
        [late],
        'a job due at once, enqueued by a worker an hour ahead, waits an hour',
      )
      deepStrictEqual(
        await claimAt(adapter, ahead, t.lease, 'w2'),
        [],
        'a delayed job ran early: enqueued by a worker an hour behind, or claimed by one ahead',
      )
      const retryAt = t.now() + t.lease
      strictEqual(
        await adapter.fail('w1', late, failure(t, 1), { retryInMs: t.lease }, t.now() - HOUR),
        true,
      )
      deepStrictEqual(
        await claimAt(adapter, ahead, t.lease, 'w2'),
        [],
        'a retry ran before its backoff',
      )
      await t.reach(retryAt)
      const retried = await t.settle(
        () => claim(adapter, t, 'w3', 1, [A]),
        (claimed) => claimed.length > 0,
      )
      deepStrictEqual(
        retried.map((c) => [c.id, c.attempt]),
        [[late, 2]],
        'a retry timed by a worker an hour behind',
      )
      await adapter.release('w3', [late], ahead)
      deepStrictEqual(
        (await claim(adapter, t, 'w4', 1, [A])).map((c) => c.id),
        [late],
        'a job released by a worker an hour ahead waits an hour',
      )
      strictEqual(await adapter.fail('w4', late, failure(t, 2), { dead: true }, ahead), true)
      strictEqual(await adapter.retry([late], ahead), 1)
      deepStrictEqual(
        (await claim(adapter, t, 'w5', 1, [A])).map((c) => c.id),
        [late],
        'a dead job retried by a worker an hour ahead waits an hour',
      )
      await t.reach(earlyAt)
      deepStrictEqual(
        (
          await t.settle(
            () => claim(adapter, t, 'w6', 1, [B]),
            (claimed) => claimed.length > 0,
          )
        ).map((c) => c.id),
        [early],
        'a job delayed by a worker an hour behind never came due',
      )
    },
  },
  {
    title: 'retries dead jobs by id or all of them, with fresh attempts',
    async run({ adapter }, t) {
      const ids = (await add(adapter, [job(t), job(t), job(t)])).map(defined)
      await claim(adapter, t, 'w1')
      for (const id of ids) await adapter.fail('w1', id, failure(t, 1), { dead: true }, t.now())
      strictEqual(await adapter.retry([defined(ids[0])], t.now()), 1)
      const back = await claim(adapter, t, 'w2')
      deepStrictEqual(
        back.map((c) => [c.id, c.attempt]),
        [[ids[0], 1]],
      )
      strictEqual(await adapter.retry('all', t.now()), 2)
      strictEqual((await claim(adapter, t, 'w2')).length, 2)
      strictEqual(await adapter.retry('all', t.now()), 0)
    },
  },
  {
    title: 'gives released jobs back at once without counting the attempt',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t)])
      await claim(adapter, t, 'w1')
      await adapter.release('w1', [defined(id)], t.now())
      const again = await claim(adapter, t, 'w2')
      deepStrictEqual(
        again.map((c) => [c.id, c.attempt]),
        [[defined(id), 1]],
      )
    },
  },
  {
    title: 'keeps one live job per key: duplicates dropped until it finishes or dies',
    async run({ adapter }, t) {
      const [first, duplicate] = await add(adapter, [job(t, { key: 'k1' }), job(t, { key: 'k1' })])
      ok(first !== undefined, 'the first job of a key was dropped')
      strictEqual(duplicate, undefined)
      strictEqual((await add(adapter, [job(t, { key: 'k1' })]))[0], undefined)
      await claim(adapter, t, 'w1')
      strictEqual(
        (await add(adapter, [job(t, { key: 'k1' })]))[0],
        undefined,
        'a running job lost its key',
      )
      await adapter.complete('w1', [first])
      const [second] = await add(adapter, [job(t, { key: 'k1' })])
      ok(second !== undefined, 'a finished job still held its key')
      await claim(adapter, t, 'w1')
      await adapter.fail('w1', second, failure(t, 1), { dead: true }, t.now())
      const [third] = await add(adapter, [job(t, { key: 'k1' })])
      ok(third !== undefined, 'a dead job still held its key')
      strictEqual(
        await adapter.retry([second], t.now()),
        0,
        'a dead job came back beside a live one with its key',
      )
    },
  },
  {
    title: 'returns ids in input order from a batch, duplicates as undefined',
    async run({ adapter }, t) {
      const ids = await add(adapter, [
        job(t, { payload: '{"n":0}' }),
        job(t, { payload: '{"n":1}', key: 'batch' }),
        job(t, { payload: '{"n":2}' }),
        job(t, { payload: '{"n":3}', key: 'batch' }),
        job(t, { payload: '{"n":4}', key: 'other' }),
      ])
      strictEqual(ids.length, 5)
      strictEqual(ids[3], undefined)
      for (const index of [0, 1, 2, 4]) {
        const info = await adapter.get(defined(ids[index]), t.now())
        deepStrictEqual(info?.payload, { n: index })
      }
    },
  },
  {
    title: 'stores progress for the worker holding the job',
    async run({ adapter }, t) {
      const [id] = await add(adapter, [job(t)])
      await claim(adapter, t, 'w1')
      strictEqual(await adapter.progress('w1', defined(id), { step: 2, of: 3 }), true)
      const running = await adapter.list({ state: 'running', limit: 10, nowMs: t.now() })
      deepStrictEqual(
        running.map((r) => [r.id, r.progress]),
        [[defined(id), { step: 2, of: 3 }]],
      )
    },
  },
  {
    title: 'counts and lists jobs by state',
    async run({ adapter }, t) {
      const [pending, scheduled, running, dead] = (
        await add(adapter, [
          job(t),
          job(t, { runAtMs: t.now() + 100 * t.lease }),
          job(t, { name: B }),
          job(t, { name: B }),
        ])
      ).map(defined)
      await claim(adapter, t, 'w1', 10, [B])
      await adapter.fail('w1', defined(dead), failure(t, 1), { dead: true }, t.now())
      const counts = (await adapter.counts(t.now()))
        .map((c) => `${c.name}:${c.state}:${c.count}`)
        .sort()
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
          (await adapter.list({ state, limit: 10, nowMs: t.now() })).map((info) => info.id),
          [id],
        )
      }
      deepStrictEqual(
        (await adapter.list({ name: B, limit: 10, nowMs: t.now() })).map((info) => info.id).sort(),
        [running, dead].sort(),
      )
    },
  },
  {
    title: 'purges dead jobs, and waiting ones when asked, never running ones',
    async run({ adapter }, t) {
      const [, , running, dead] = (
        await add(adapter, [
          job(t),
          job(t, { runAtMs: t.now() + 100 * t.lease }),
          job(t, { name: B }),
          job(t, { name: B }),
        ])
      ).map(defined)
      await claim(adapter, t, 'w1', 10, [B])
      await adapter.fail('w1', defined(dead), failure(t, 1), { dead: true }, t.now())
      strictEqual(await adapter.purge(['dead'], t.now()), 1)
      strictEqual(await adapter.purge(['pending', 'scheduled'], t.now()), 2)
      deepStrictEqual(
        (await adapter.list({ limit: 10, nowMs: t.now() })).map((info) => info.id),
        [running],
      )
    },
  },
  {
    title: 'never hands one job to two workers claiming at once',
    async run({ adapter }, t) {
      const jobs = Array.from({ length: 200 }, (_, n) => job(t, { payload: JSON.stringify({ n }) }))
      const ids = (await add(adapter, jobs)).map(defined)
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, w) => claim(adapter, t, `w${w}`, 40)),
      )
      const claimed = claims.flat().map((c) => c.id)
      strictEqual(new Set(claimed).size, claimed.length, 'a job was claimed twice')
      const rest = await claim(adapter, t, 'w9', 400)
      deepStrictEqual([...claimed, ...rest.map((c) => c.id)].sort(), [...ids].sort())
    },
  },
  {
    title: 'enqueues inside a transaction only when it commits',
    async run({ adapter, transaction }, t) {
      withTransaction(transaction)
      await transaction(async () => {
        await adapter.enqueue([job(t, { payload: '{"n":"rolled back"}' })])
        throw new RollbackSignal()
      }).catch((error: unknown) => {
        if (!(error instanceof RollbackSignal)) throw error
      })
      await adapter.announce?.()
      deepStrictEqual(
        await claim(adapter, t, 'w1'),
        [],
        'a job enqueued in a rolled-back transaction ran',
      )
      await transaction(async () => {
        await adapter.enqueue([job(t, { payload: '{"n":"committed"}' })])
      })
      await adapter.announce?.()
      const claimed = await claim(adapter, t, 'w1')
      deepStrictEqual(
        claimed.map((c) => c.payload),
        ['{"n":"committed"}'],
      )
    },
  },
  {
    title: 'returns, inside concurrent transactions, the ids the jobs are stored and claimed under',
    async run({ adapter, transaction }, t) {
      withTransaction(transaction)
      const enqueued = new Map<string, string>()
      await Promise.all(
        Array.from({ length: 12 }, (_, n) =>
          transaction(async () => {
            const payloads = [0, 1, 2].map((i) => JSON.stringify({ n, i }))
            const [one] = await adapter.enqueue([job(t, { payload: payloads[0] })])
            const many = await adapter.enqueue(
              payloads.slice(1).map((payload) => job(t, { payload })),
            )
            const [keyed] = await adapter.enqueue([
              job(t, { key: `tx-${n}`, payload: `{"k":${n}}` }),
            ])
            for (const [id, payload] of [
              [one, payloads[0]],
              [many[0], payloads[1]],
              [many[1], payloads[2]],
              [keyed, `{"k":${n}}`],
            ] as const) {
              enqueued.set(defined(id), payload as string)
            }
          }),
        ),
      )
      await adapter.announce?.()
      strictEqual(enqueued.size, 48, 'two jobs got one id')
      const claimed = await claim(adapter, t, 'w1', 100)
      deepStrictEqual(
        new Map(claimed.map((c) => [c.id, c.payload])),
        enqueued,
        'a job was not stored under the id enqueue returned',
      )
    },
  },
  {
    title: 'lets one of many concurrent claims of a schedule tick win, and enqueues its job once',
    async run({ adapter }, t) {
      const store = adapter.schedules
      if (store === undefined) return
      const now = t.now()
      const row = { name: 'conformance.tick', spec: 'every 60000', nextAtMs: now }
      const due = async (nowMs: number) =>
        (await store.due([row.name], nowMs)).rows.map((tick) => tick.nextAtMs)
      await store.register([row])
      await store.register([{ ...row, nextAtMs: now + 60_000 }])
      deepStrictEqual(await due(t.now()), [now], 'registering again moved an existing schedule')
      const wins = await Promise.all(
        Array.from({ length: 6 }, () =>
          store.claim(row, now + 60_000, () =>
            add(adapter, [job(t, { name: A, payload: '{"tick":1}' })]),
          ),
        ),
      )
      strictEqual(wins.filter(Boolean).length, 1, 'a tick fired more than once, or never')
      strictEqual((await claim(adapter, t, 'w1')).length, 1)
      deepStrictEqual(await due(t.now()), [])
      const changedAt = t.now() + t.lease
      await store.register([{ ...row, spec: 'every 1000', nextAtMs: changedAt }])
      await t.reach(changedAt)
      deepStrictEqual(
        await t.settle(
          () => due(t.now()),
          (ticks) => ticks.length > 0,
        ),
        [changedAt],
        'a changed timing kept the old next tick',
      )
    },
  },
  {
    title: "judges schedule ticks due by its own clock, not a skewed worker's",
    shared: true,
    async run({ adapter }, t) {
      const store = adapter.schedules
      if (store === undefined) return
      const nextAtMs = t.now() + 2 * t.lease
      await store.register([{ name: 'conformance.skew', spec: 'every 60000', nextAtMs }])
      deepStrictEqual(
        (await store.due(['conformance.skew'], t.now() + HOUR)).rows,
        [],
        'a tick came due early for a worker whose clock runs an hour ahead',
      )
      await t.reach(nextAtMs)
      const due = await t.settle(
        () => store.due(['conformance.skew'], t.now() - HOUR),
        (ticks) => ticks.rows.length > 0,
      )
      deepStrictEqual(
        due.rows.map((tick) => tick.nextAtMs),
        [nextAtMs],
        'a tick never came due for a worker whose clock runs an hour behind',
      )
      t.near(due.nowMs, t.now(), 'the instant a tick was judged due at')
    },
  },
]

/**
 * The rules every {@link QueueAdapter} keeps, as plain checks (they throw an `AssertionError`
 * when a rule is broken), so a test runner can run them, and a test can show that a broken
 * adapter fails them. {@link queueConformance} registers them with vitest. Each check runs on a
 * simulated clock when the subject is {@link QueueSubject.inProcess}, else on the real one.
 */
export const queueConformanceCases: readonly QueueConformanceCase[] = checks.map((check) => ({
  title: check.title,
  run: async (subject) => {
    if (subject.inProcess === true) {
      if (check.shared !== true) await check.run(subject, simulatedClock())
      return
    }
    await check.run(subject, realClock(subject.leaseMs ?? DEFAULT_LEASE_MS))
  },
}))

const DEFAULT_LEASE_MS = 1_000

class RollbackSignal extends Error {}

// On the real clock a case waits out a few leases, and reads until the engine's timers catch up:
// longer than vitest's default 5 s allows.
const CASE_TIMEOUT_MS = 60_000

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
 *   // SQS times visibility itself: the kit runs on the machine clock, with 1 s leases.
 *   return { adapter, leaseMs: 1_000, dispose: () => adapter.close() }
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
      it(
        check.title,
        async () => {
          const subject = await setup()
          try {
            await check.run(subject)
          } finally {
            await subject.dispose?.()
          }
        },
        CASE_TIMEOUT_MS,
      )
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
