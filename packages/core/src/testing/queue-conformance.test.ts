import { describe, expect, it } from 'vitest'
import { InlineQueue } from '../jobs/inline/index.js'
import type { NewJob } from '../jobs/queue-adapter.js'
import { failingQueueConformanceCases } from './queue-conformance.js'

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

/** A queue that drops keys: two live jobs may share one. */
class IgnoresKeys extends InlineQueue {
  override enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    return super.enqueue(jobs.map((job) => ({ ...job, key: undefined })))
  }
}

describe('the queue conformance kit', () => {
  it('passes the inline queue', async () => {
    expect(await failingQueueConformanceCases(() => ({ adapter: new InlineQueue() }))).toEqual([])
  })

  it('fails a queue that lets a worker finish a job it no longer holds', async () => {
    const failed = await failingQueueConformanceCases(() => ({ adapter: new IgnoresLeases() }))
    expect(failed).toContain(
      'deletes a completed job, and only the worker holding it can complete it',
    )
    expect(failed).toContain(
      'gives a job whose lease expired to another worker, and ignores the first one after',
    )
  })

  it('fails a queue that ignores deduplication keys', async () => {
    const failed = await failingQueueConformanceCases(() => ({ adapter: new IgnoresKeys() }))
    expect(failed).toEqual([
      'keeps one live job per key: duplicates dropped until it finishes or dies',
      'returns ids in input order from a batch, duplicates as undefined',
    ])
  })
})
