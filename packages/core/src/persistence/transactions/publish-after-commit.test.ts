import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventBus } from '../../events/index.js'
import { createLogger } from '../../logger/create-logger.js'
import { Database } from '../database/index.js'
import { publishAfterCommit } from './publish-after-commit.js'
import { transaction } from './transaction.js'

declare module '@mortar/core' {
  interface EventMap {
    'persistence_test.order_committed': { orderId: string }
  }
}

describe('publishAfterCommit', () => {
  let database: Database
  const bus = new EventBus(createLogger({ level: 'silent' }))
  const heard: string[] = []
  bus.subscribe('persistence_test.order_committed', ({ orderId }) => {
    heard.push(orderId)
  })

  beforeAll(async () => {
    database = new Database('sqlite::memory:')
    await database.connect()
  })

  afterAll(() => database.destroy())

  it('delivers the event only once the transaction has committed', async () => {
    heard.length = 0
    await transaction(
      async () => {
        await publishAfterCommit(bus, 'persistence_test.order_committed', { orderId: 'o-1' })
        expect(heard).toEqual([])
      },
      { database },
    )
    expect(heard).toEqual(['o-1'])
  })

  it('never delivers the event of a transaction that rolled back', async () => {
    heard.length = 0
    await transaction(
      async () => {
        await publishAfterCommit(bus, 'persistence_test.order_committed', { orderId: 'o-2' })
        throw new Error('payment declined')
      },
      { database },
    ).catch(() => undefined)
    expect(heard).toEqual([])
  })

  it('delivers at once outside a transaction', async () => {
    heard.length = 0
    await publishAfterCommit(bus, 'persistence_test.order_committed', { orderId: 'o-3' })
    expect(heard).toEqual(['o-3'])
  })

  it('delivers the event of { database } at its commit, not at that of another database open inside it', async () => {
    heard.length = 0
    const other = new Database('sqlite::memory:')
    try {
      await transaction(
        async () => {
          await other.transaction(() =>
            publishAfterCommit(
              bus,
              'persistence_test.order_committed',
              { orderId: 'o-4' },
              { database },
            ),
          )
          throw new Error('payment declined')
        },
        { database },
      ).catch(() => undefined)
      expect(heard).toEqual([])
    } finally {
      await other.destroy()
    }
  })
})
