import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../app/create-app.js'
import { EVENT_BUS } from '../../events/index.js'
import { createLogger } from '../../logger/create-logger.js'
import { Database } from '../database/index.js'
import type { AfterCommitFailure } from './after-commit-failure.js'
import {
  testEngines,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
} from '../../testing/test-databases.js'
import { afterCommit, beforeCommit, transaction, useDefaultDatabase } from './transaction.js'
import { Transactional } from './transactional.js'

interface TestDb {
  item: { id: number; name: string }
  counter: { id: number; value: number }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`transactions on ${engine.engine}`, () => {
    if (engine.skip) console.info(engine.skip)
    let target: PrivateDatabaseUrl
    let database: Database<TestDb>
    let release: () => void
    const failures: AfterCommitFailure[] = []
    const logLines: string[] = []

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
      database = new Database<TestDb>({
        url: target.url,
        pool: 4,
        logger: createLogger({
          level: 'error',
          destination: { write: (line) => logLines.push(line) },
        }),
        onAfterCommitError: (failure) => {
          failures.push(failure)
        },
      })
      await database.connect()
      release = useDefaultDatabase(database)
      await database.root.schema
        .createTable('item')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .execute()
      await database.root.schema
        .createTable('counter')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('value', 'integer', (c) => c.notNull())
        .execute()
    })

    afterAll(async () => {
      release?.()
      await database?.destroy()
      await target?.drop()
    })

    async function names(): Promise<string[]> {
      const rows = await database.root.selectFrom('item').select('name').orderBy('id').execute()
      return rows.map((row) => row.name)
    }

    async function reset(): Promise<void> {
      await database.root.deleteFrom('item').execute()
      await database.root.deleteFrom('counter').execute()
    }

    it(`commits on ${engine.engine} when the function resolves, and the shared kysely runs inside`, async () => {
      await reset()
      const result = await transaction(async () => {
        await database.kysely.insertInto('item').values({ id: 1, name: 'a' }).execute()
        expect(database.inTransaction).toBe(true)
        // The transaction-aware instance sees its own uncommitted row.
        const inside = await database.kysely.selectFrom('item').select('name').execute()
        expect(inside).toEqual([{ name: 'a' }])
        return 'done'
      })
      expect(result).toBe('done')
      expect(database.inTransaction).toBe(false)
      expect(await names()).toEqual(['a'])
    })

    it(`rolls back on ${engine.engine} when the function throws`, async () => {
      await reset()
      await expect(
        transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 1, name: 'a' }).execute()
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect(await names()).toEqual([])
    })

    it(`joins the outer transaction on ${engine.engine} by default, so an outer throw undoes inner work`, async () => {
      await reset()
      await expect(
        transaction(async () => {
          await transaction(async () => {
            await database.kysely.insertInto('item').values({ id: 1, name: 'inner' }).execute()
          })
          throw new Error('outer fails')
        }),
      ).rejects.toThrow('outer fails')
      expect(await names()).toEqual([])
    })

    it(`rolls back only a failed savepoint on ${engine.engine} and keeps the outer work`, async () => {
      await reset()
      await transaction(async () => {
        await database.kysely.insertInto('item').values({ id: 1, name: 'outer' }).execute()
        await expect(
          transaction(
            async () => {
              await database.kysely.insertInto('item').values({ id: 2, name: 'inner' }).execute()
              throw new Error('inner fails')
            },
            { propagation: 'savepoint' },
          ),
        ).rejects.toThrow('inner fails')
        await transaction(
          async () => {
            await database.kysely.insertInto('item').values({ id: 3, name: 'kept' }).execute()
          },
          { propagation: 'savepoint' },
        )
      })
      expect(await names()).toEqual(['outer', 'kept'])
    })

    it(`runs afterCommit on ${engine.engine} only after the outermost commit`, async () => {
      await reset()
      const seen: string[] = []
      await transaction(async () => {
        await transaction(async () => {
          await afterCommit(() => {
            seen.push('callback')
          })
        })
        seen.push('end of outer')
        await database.kysely.insertInto('item').values({ id: 1, name: 'a' }).execute()
      })
      expect(seen).toEqual(['end of outer', 'callback'])
    })

    it(`skips afterCommit on ${engine.engine} when the transaction rolls back`, async () => {
      await reset()
      const seen: string[] = []
      await expect(
        transaction(async () => {
          await afterCommit(() => {
            seen.push('must not run')
          })
          throw new Error('rollback')
        }),
      ).rejects.toThrow('rollback')
      expect(seen).toEqual([])
    })

    it(`drops the afterCommit callbacks of a rolled-back savepoint on ${engine.engine}`, async () => {
      await reset()
      const seen: string[] = []
      await transaction(async () => {
        await afterCommit(() => {
          seen.push('outer')
        })
        await transaction(
          async () => {
            await afterCommit(() => {
              seen.push('released savepoint')
            })
          },
          { propagation: 'savepoint' },
        )
        await transaction(
          async () => {
            await afterCommit(() => {
              seen.push('rolled-back savepoint')
            })
            throw new Error('undo')
          },
          { propagation: 'savepoint' },
        ).catch(() => undefined)
      })
      expect(seen).toEqual(['outer', 'released savepoint'])
    })

    it(`rolls back on ${engine.engine} when a joined transaction failed and the caller caught it`, async () => {
      await reset()
      const seen: string[] = []
      const inner = new Error('inner fails')
      const error = await transaction(async () => {
        await database.kysely.insertInto('item').values({ id: 1, name: 'outer' }).execute()
        await transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 2, name: 'inner' }).execute()
          await afterCommit(() => {
            seen.push('inner callback')
          })
          throw inner
        }).catch(() => undefined)
        await afterCommit(() => {
          seen.push('outer callback')
        })
        return 'resolved'
      }).catch((caught: unknown) => caught)
      expect(error).toMatchObject({ code: 'E_TRANSACTION_ROLLBACK_ONLY', cause: inner })
      expect(await names()).toEqual([])
      expect(seen).toEqual([])
    })

    it(`marks the transaction rollback-only on ${engine.engine} when a caught @Transactional() method joined it and threw`, async () => {
      await reset()
      class Stock {
        @Transactional()
        async reserve(): Promise<void> {
          await database.kysely.insertInto('item').values({ id: 2, name: 'reserved' }).execute()
          throw new Error('out of stock')
        }
      }
      const stock = new Stock()
      await expect(
        transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 1, name: 'order' }).execute()
          await stock.reserve().catch(() => undefined)
        }),
      ).rejects.toMatchObject({ code: 'E_TRANSACTION_ROLLBACK_ONLY' })
      expect(await names()).toEqual([])
      // A failure that propagates keeps its own error: nothing is wrapped.
      await expect(transaction(() => stock.reserve())).rejects.toThrow('out of stock')
    })

    it(`confines a caught joined failure to its savepoint on ${engine.engine}`, async () => {
      await reset()
      await transaction(async () => {
        await database.kysely.insertInto('item').values({ id: 1, name: 'outer' }).execute()
        await expect(
          transaction(
            async () => {
              await database.kysely.insertInto('item').values({ id: 2, name: 'inner' }).execute()
              await transaction(async () => {
                throw new Error('joined the savepoint and failed')
              }).catch(() => undefined)
            },
            { propagation: 'savepoint' },
          ),
        ).rejects.toMatchObject({ code: 'E_TRANSACTION_ROLLBACK_ONLY' })
        await database.kysely.insertInto('item').values({ id: 3, name: 'after' }).execute()
      })
      expect(await names()).toEqual(['outer', 'after'])
    })

    it(`resolves on ${engine.engine} when an afterCommit callback fails, runs the others, and reports it`, async () => {
      await reset()
      failures.length = 0
      logLines.length = 0
      const seen: string[] = []
      const boom = new Error('mail server down')
      const result = await transaction(async () => {
        await database.kysely.insertInto('item').values({ id: 1, name: 'paid' }).execute()
        await afterCommit(() => {
          throw boom
        })
        await afterCommit(async () => {
          seen.push('second callback')
        })
        return 'order-1'
      })
      expect(result).toBe('order-1')
      expect(await names()).toEqual(['paid'])
      expect(seen).toEqual(['second callback'])
      expect(failures).toEqual([
        { code: 'E_AFTER_COMMIT', error: boom, database: database.display },
      ])
      expect(logLines.join('')).toContain('E_AFTER_COMMIT')
    })

    it(`runs beforeCommit on ${engine.engine} inside the outermost transaction, after its function, in order, with those registered meanwhile`, async () => {
      await reset()
      const seen: string[] = []
      await transaction(async () => {
        await transaction(async () => {
          await beforeCommit(async () => {
            seen.push('first')
            // Still in the transaction: rolled back with it below if a later callback failed.
            await database.kysely.insertInto('item').values({ id: 1, name: 'hook' }).execute()
            await beforeCommit(() => {
              seen.push('registered while running')
            })
            await afterCommit(() => {
              seen.push('after commit')
            })
          })
        })
        await transaction(
          async () => {
            await beforeCommit(() => {
              seen.push('released savepoint')
            })
          },
          { propagation: 'savepoint' },
        )
        await transaction(
          async () => {
            await beforeCommit(() => {
              seen.push('rolled-back savepoint')
            })
            throw new Error('undo')
          },
          { propagation: 'savepoint' },
        ).catch(() => undefined)
        seen.push('end of function')
      })
      expect(seen).toEqual([
        'end of function',
        'first',
        'released savepoint',
        'registered while running',
        'after commit',
      ])
      expect(await names()).toEqual(['hook'])
    })

    it(`rolls back on ${engine.engine} and rejects with its error when a beforeCommit callback fails`, async () => {
      await reset()
      const seen: string[] = []
      const refused = new Error('limit exceeded')
      await expect(
        transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 1, name: 'body' }).execute()
          await beforeCommit(async () => {
            await database.kysely.insertInto('item').values({ id: 2, name: 'hook' }).execute()
            throw refused
          })
          await beforeCommit(() => {
            seen.push('after the failed one')
          })
          await afterCommit(() => {
            seen.push('after commit')
          })
        }),
      ).rejects.toBe(refused)
      expect(await names()).toEqual([])
      expect(seen).toEqual([])
    })

    it(`rolls back on ${engine.engine} when a beforeCommit callback's joined call failed and was caught`, async () => {
      await reset()
      const inner = new Error('inner fails')
      await expect(
        transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 1, name: 'body' }).execute()
          await beforeCommit(async () => {
            await transaction(async () => {
              throw inner
            }).catch(() => undefined)
          })
        }),
      ).rejects.toMatchObject({ code: 'E_TRANSACTION_ROLLBACK_ONLY', cause: inner })
      expect(await names()).toEqual([])
    })

    it(`skips beforeCommit on ${engine.engine} when the function throws, and runs it at once outside a transaction`, async () => {
      await reset()
      const seen: string[] = []
      await expect(
        transaction(async () => {
          await beforeCommit(() => {
            seen.push('must not run')
          })
          throw new Error('rollback')
        }),
      ).rejects.toThrow('rollback')
      expect(seen).toEqual([])
      await beforeCommit(() => {
        seen.push('now')
      })
      expect(seen).toEqual(['now'])
    })

    // An app with two databases: a callback given its database belongs to that database's
    // transaction, though another database's is open inside it. Registered on the innermost,
    // it ran at the other's commit, before this one's work was done and after its rollback.
    it(`runs beforeCommit and afterCommit with { database } on ${engine.engine} in that database's transaction, not another's open inside it`, async () => {
      await reset()
      const other = new Database('sqlite::memory:')
      try {
        const seen: string[] = []
        const register = (label: string) =>
          Promise.all([
            beforeCommit(
              async () => {
                seen.push(`before ${label}`)
                await database.kysely.insertInto('item').values({ id: 1, name: label }).execute()
              },
              { database },
            ),
            afterCommit(() => void seen.push(`after ${label}`), { database }),
            beforeCommit(() => void seen.push(`before other ${label}`), { database: other }),
          ])
        await transaction(
          async () => {
            await other.transaction(() => register('committed'))
            seen.push('body done')
          },
          { database },
        )
        expect(seen).toEqual([
          'before other committed',
          'body done',
          'before committed',
          'after committed',
        ])
        expect(await names()).toEqual(['committed'])
        seen.length = 0
        await reset()
        await expect(
          transaction(
            async () => {
              await other.transaction(() => register('rolled back'))
              throw new Error('declined')
            },
            { database },
          ),
        ).rejects.toThrow('declined')
        expect(seen).toEqual(['before other rolled back'])
        expect(await names()).toEqual([])
        // The database given has no transaction open: now, as outside any.
        await other.transaction(async () => {
          await afterCommit(() => void seen.push('now'), { database })
          seen.push('then')
        })
        expect(seen).toEqual(['before other rolled back', 'now', 'then'])
      } finally {
        await other.destroy()
      }
    })

    it(`wraps a method in a transaction with @Transactional() on ${engine.engine}`, async () => {
      await reset()
      class Inventory {
        constructor(readonly db: Database<TestDb>) {}

        @Transactional()
        async addTwo(failAfterFirst: boolean): Promise<void> {
          await this.db.kysely.insertInto('item').values({ id: 1, name: 'first' }).execute()
          if (failAfterFirst) throw new Error('second failed')
          await this.db.kysely.insertInto('item').values({ id: 2, name: 'second' }).execute()
        }
      }
      const inventory = new Inventory(database)
      await expect(inventory.addTwo(true)).rejects.toThrow('second failed')
      expect(await names()).toEqual([])
      await inventory.addTwo(false)
      expect(await names()).toEqual(['first', 'second'])
    })

    if (engine.engine === 'sqlite') {
      it('refuses a second independent transaction on SQLite instead of deadlocking', async () => {
        await expect(
          transaction(() => transaction(async () => 1, { propagation: 'new' })),
        ).rejects.toMatchObject({ code: 'E_TRANSACTION' })
      })
    } else {
      it(`commits two concurrent transactions with distinct rows on ${engine.engine}`, async () => {
        await reset()
        let release!: () => void
        const gate = new Promise<void>((resolve) => {
          release = resolve
        })
        const first = transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 1, name: 'one' }).execute()
          await gate
        })
        const second = transaction(async () => {
          await database.kysely.insertInto('item').values({ id: 2, name: 'two' }).execute()
          release()
        })
        await Promise.all([first, second])
        expect(await names()).toEqual(['one', 'two'])
      })

      it(`serializes two conflicting updates on ${engine.engine} so no increment is lost`, async () => {
        await reset()
        await database.root.insertInto('counter').values({ id: 1, value: 0 }).execute()
        const increment = () =>
          transaction(async () => {
            const row = await database.kysely
              .selectFrom('counter')
              .select('value')
              .where('id', '=', 1)
              .forUpdate()
              .executeTakeFirstOrThrow()
            await database.kysely
              .updateTable('counter')
              .set({ value: row.value + 1 })
              .where('id', '=', 1)
              .execute()
          })
        await Promise.all([increment(), increment(), increment()])
        const row = await database.root
          .selectFrom('counter')
          .select('value')
          .executeTakeFirstOrThrow()
        expect(row.value).toBe(3)
      })

      it(`runs an independent transaction with propagation 'new' on ${engine.engine}`, async () => {
        await reset()
        await expect(
          transaction(async () => {
            await transaction(
              async () => {
                await database.kysely.insertInto('item').values({ id: 1, name: 'audit' }).execute()
              },
              { propagation: 'new' },
            )
            throw new Error('outer rolls back')
          }),
        ).rejects.toThrow('outer rolls back')
        expect(await names()).toEqual(['audit'])
      })
    }

    it(`reports a healthy ping on ${engine.engine}`, async () => {
      const health = await database.health()
      expect(health.status).toBe('ok')
      expect(typeof health.latencyMs).toBe('number')
      const value = await sql<{ one: number }>`select 1 as one`.execute(database.kysely)
      expect(Number(value.rows[0]?.one)).toBe(1)
    })
  })
}

describe('afterCommit failures in an app', () => {
  it('publishes mortar.after_commit_failed on the event bus while the transaction resolves', async () => {
    const app = createApp({ modules: [], database: 'sqlite::memory:' })
    await app.start()
    try {
      const heard: AfterCommitFailure[] = []
      app.resolve(EVENT_BUS).subscribe('mortar.after_commit_failed', (failure) => {
        heard.push(failure)
      })
      const boom = new Error('cache purge failed')
      await expect(
        transaction(async () => {
          await afterCommit(() => {
            throw boom
          })
          return 42
        }),
      ).resolves.toBe(42)
      expect(heard).toEqual([{ code: 'E_AFTER_COMMIT', error: boom, database: 'sqlite::memory:' }])
    } finally {
      await app.stop()
    }
  })
})
