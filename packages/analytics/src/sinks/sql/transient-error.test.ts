import { DATABASE } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../../catalog/define-events.js'
import { startEngineApp } from '../../testing/engine-app.js'
import type { EventBatch } from '../event-sink.js'
import { SqlEventSink } from './sql-event-sink.js'
import { isTransientDatabaseError } from './transient-error.js'

const events = defineEvents({ heartbeat: z.object({ n: z.int() }) })

const batch: EventBatch = {
  id: 42,
  events: [
    {
      id: '019a0000-0000-7000-8000-000000000001',
      name: 'heartbeat',
      occurredAt: Date.parse('2026-03-02T10:00:00Z'),
      userId: 'u-1',
      anonymousId: null,
      sessionId: null,
      ip: null,
      userAgent: null,
      country: null,
      properties: '{"n":1}',
    },
  ],
  failed: [],
  links: [],
}

// Server engines only: a server that takes no writes for a while is a failover (a demoted
// primary, a replica still behind the writer's name, MariaDB's read_only during a switchover).
for (const engine of testEngines().filter((e) => e.engine !== 'sqlite')) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`transient database errors, ${engine.title}`, () => {
    it('takes a write refused by a read-only server for one that passes by itself: retried, not dropped after five tries', async () => {
      const subject = await startEngineApp(engine, { events })
      try {
        const root = subject.app.resolve(DATABASE).root
        const refused = await root.connection().execute(async (connection) => {
          const readOnly =
            engine.engine === 'postgres'
              ? sql`set session characteristics as transaction read only`
              : sql`set session transaction read only`
          await readOnly.execute(connection)
          try {
            await new SqlEventSink({ db: connection }).write(batch)
            return undefined
          } catch (error) {
            return error
          } finally {
            const readWrite =
              engine.engine === 'postgres'
                ? sql`set session characteristics as transaction read write`
                : sql`set session transaction read write`
            await readWrite.execute(connection)
          }
        })
        expect(refused).toBeInstanceOf(Error)
        expect(isTransientDatabaseError(refused)).toBe(true)
      } finally {
        await subject.close()
      }
    })
  })
}
