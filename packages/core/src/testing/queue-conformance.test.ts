import { describe, expect, it } from 'vitest'
import { InlineQueue } from '../jobs/inline/index.js'
import type { NewJob } from '../jobs/queue-adapter.js'
import { Database } from '../persistence/database/index.js'
import { transactionStorage } from '../persistence/transactions/transaction-store.js'
import { failingQueueConformanceCases, type QueueSubject } from './queue-conformance.js'

// One SQLite database only to open transactions in: the inline queue keeps no rows there.
const database = new Database('sqlite::memory:')
const transaction: QueueSubject['transaction'] = (fn) => database.transaction(fn)

/** A queue that lets any worker finish any job: the lease check a real queue must make. */
class IgnoresLeases extends InlineQueue {
  override async complete(_worker: string, ids: readonly string[]): Promise<readonly string[]> {
    const done: string[] = []
    for (const id of ids) {
      const holder = (await this.get(id, 0))?.worker
      if (holder !== undefined) done.push(...(await super.complete(holder, [id])))
    }
    return done
  }
}

/** A queue that stores jobs at once, inside a transaction too: a rollback leaves them to run. */
class IgnoresTransactions extends InlineQueue {
  override enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    // Outside the caller's transaction, as an adapter that never looks for one enqueues.
    return transactionStorage.exit(() => super.enqueue(jobs))
  }
}

/** A queue that drops keys: two live jobs may share one. */
class IgnoresKeys extends InlineQueue {
  override enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    return super.enqueue(jobs.map((job) => ({ ...job, key: undefined })))
  }
}

describe('the queue conformance kit', () => {
  it('passes the inline queue', async () => {
    expect(
      await failingQueueConformanceCases(() => ({ adapter: new InlineQueue(), transaction })),
    ).toEqual([])
  })

  it('fails a queue that lets a worker finish a job it no longer holds', async () => {
    const failed = await failingQueueConformanceCases(() => ({
      adapter: new IgnoresLeases(),
      transaction,
    }))
    expect(failed).toContain(
      'deletes a completed job, and only the worker holding it can complete it',
    )
    expect(failed).toContain(
      'gives a job whose lease expired to another worker, and ignores the first one after',
    )
  })

  it('fails a queue that ignores deduplication keys', async () => {
    const failed = await failingQueueConformanceCases(() => ({
      adapter: new IgnoresKeys(),
      transaction,
    }))
    expect(failed).toEqual([
      'keeps one live job per key: duplicates dropped until it finishes or dies',
      'returns ids in input order from a batch, duplicates as undefined',
    ])
  })

  it("fails a queue whose enqueue ignores the caller's transaction", async () => {
    expect(
      await failingQueueConformanceCases(() => ({
        adapter: new IgnoresTransactions(),
        transaction,
      })),
    ).toContain('enqueues inside a transaction only when it commits')
  })

  it('fails a setup that gives no transaction, rather than skipping the transaction checks', async () => {
    // A setup in plain JS, or written when the kit took no transaction: the type cannot stop it.
    const untyped = () => ({ adapter: new IgnoresTransactions() }) as unknown as QueueSubject
    expect(await failingQueueConformanceCases(untyped)).toEqual([
      'enqueues inside a transaction only when it commits',
      'returns, inside concurrent transactions, the ids the jobs are stored and claimed under',
    ])
  })
})
