import { createLogger, databaseToken, defineJob, EVENT_BUS, JOBS } from '@mortar/core'
import {
  createTestApp,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import type { Channel, ChannelResult, Outgoing } from '../channels/channel.js'
import type { ChatMessage } from '../channels/chat/chat-message.js'
import { LEDGER, NOTIFY_JOBS, notifyModule } from '../module/notify-module.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import type { DeliveryRecord } from './delivery-table.js'

/**
 * A delivery's life on the ledger, generated: the channel's answers (in time, thrown, given up
 * at its bound and answered late, or given while a second run of its job is under way) and what
 * happens around them (another run of its job, a worker that marks it and vanishes, time passing
 * its mark's lease, a replay of it dead), in any order, against what must hold whatever the order.
 */

// The channel's bound in real ms: short for a send to be given up (it waits this long), long for
// the others, which answer before it whatever else runs meanwhile.
const BOUND = 10
const PATIENT = 60_000
// Time enough (in the app's ms) for any mark's lease, twice its send's bound, to pass.
const LAPSE = 2 * PATIENT + 1

type Answer =
  | 'accepted'
  | 'transient'
  | 'permanent'
  | 'not-accepted'
  | 'throws'
  | 'late-accepted'
  | 'late-transient'
  | 'raced-accepted'
  | 'raced-transient'

/** An attempt that marked the delivery: a send through the channel, or a worker that vanished. */
interface Marked {
  readonly by: 'channel' | 'vanished'
  readonly answer?: Answer
  /** A late acceptance the ledger recorded as the delivery's result. */
  recorded?: boolean
}

type Step =
  | { readonly kind: 'drain' }
  | { readonly kind: 'lapse' }
  | { readonly kind: 'rerun' }
  | { readonly kind: 'vanish' }
  | { readonly kind: 'answer-late' }
  | { readonly kind: 'replay' }

const answer = fc.constantFrom<Answer>(
  'accepted',
  'transient',
  'permanent',
  'not-accepted',
  'throws',
  'late-accepted',
  'late-transient',
  'raced-accepted',
  'raced-transient',
)
const step = fc.constantFrom<Step>(
  { kind: 'drain' },
  { kind: 'lapse' },
  { kind: 'rerun' },
  { kind: 'vanish' },
  { kind: 'answer-late' },
  { kind: 'replay' },
)

/** Outcomes whose message may or may not have gone out: the next send may be a duplicate. */
function ambiguous(marked: Marked): boolean {
  if (marked.by === 'vanished') return true
  if (marked.recorded === true) return false
  return ['transient', 'throws', 'late-accepted', 'late-transient', 'raced-transient'].includes(
    marked.answer ?? '',
  )
}

/** An attempt whose acceptance the ledger knew of: the delivery is sent. */
function accepted(marked: Marked): boolean {
  return (
    marked.answer === 'accepted' || marked.answer === 'raced-accepted' || marked.recorded === true
  )
}

class Ping extends Notification {
  readonly type = 'ping'
  via() {
    return ['chat'] as const
  }
  toChat() {
    return { text: 'ping' }
  }
}

/** The channel of one generated life: answers as scripted, `accepted` once the script runs out. */
class ScriptedChannel implements Channel<'chat'> {
  readonly name = 'chat'
  script: Answer[] = []
  /** Runs a second run of the delivery's job to its end, while a raced send waits for it. */
  beside: (id: string) => Promise<void> = async () => {}
  /** The attempts that marked each delivery, in order. */
  readonly marks = new Map<string, Marked[]>()
  /** Messages that reached the recipient, late ones included, by delivery. */
  readonly delivered = new Map<string, number>()
  /** Sends under way past their bound, answered when the test says. */
  late: { readonly id: string; readonly marked: Marked; answer(): void }[] = []

  marksOf(id: string): Marked[] {
    const marks = this.marks.get(id) ?? []
    this.marks.set(id, marks)
    return marks
  }

  #deliver(id: string): number {
    const count = (this.delivered.get(id) ?? 0) + 1
    this.delivered.set(id, count)
    return count
  }

  /** Read before each attempt marks the delivery, while the next answer is still the script's. */
  get sendTimeoutMs(): number {
    return this.script[0]?.startsWith('late-') === true ? BOUND : PATIENT
  }

  route(): string {
    return 'room'
  }

  async send({ id }: Outgoing<ChatMessage>): Promise<ChannelResult> {
    const given = this.script.shift() ?? 'accepted'
    const marked: Marked = { by: 'channel', answer: given }
    this.marksOf(id).push(marked)
    switch (given) {
      case 'raced-accepted':
      case 'raced-transient':
        await this.beside(id)
        return given === 'raced-accepted'
          ? { status: 'accepted', providerMessageId: `p-${this.#deliver(id)}` }
          : { status: 'transient', reason: 'reset' }
      case 'accepted':
        return Promise.resolve({ status: 'accepted', providerMessageId: `p-${this.#deliver(id)}` })
      case 'throws':
        return Promise.reject(new Error('socket hang up'))
      case 'late-accepted':
      case 'late-transient':
        return new Promise((resolve) => {
          this.late.push({
            id,
            marked,
            answer: () => {
              if (given === 'late-accepted') {
                resolve({ status: 'accepted', providerMessageId: `late-${this.#deliver(id)}` })
              } else resolve({ status: 'transient', reason: 'reset after a while' })
            },
          })
        })
      default:
        return Promise.resolve({ status: given, reason: `scripted ${given}` })
    }
  }
}

// The delivery job under its own name, as a second run of it is enqueued.
const deliveryJobAgain = defineJob({
  name: NOTIFY_JOBS.deliver,
  schema: z.object({ id: z.string(), replay: z.number().int().optional() }),
  handler: () => undefined,
})

// Runs per engine: a few seconds each.
const ENGINES = { sqlite: 300, postgres: 60, mysql: 40 } as const

for (const engine of testEngines()) {
  const runs = ENGINES[engine.engine]
  if (engine.skip) console.info(`[skipped] a delivery's life on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`a delivery's life on ${engine.title}`, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp
    const channel = new ScriptedChannel()
    const sentEvents: string[] = []

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = createTestApp({
        database: database.url,
        logger: createLogger({ level: 'silent' }),
        jobs: { workers: false },
        modules: [
          notifyModule({
            channels: [channel],
            delivery: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 } },
          }),
        ],
      })
      await app.migrate()
      await app.start()
      app.resolve(EVENT_BUS).subscribe('notification.sent', (event) => {
        sentEvents.push(event.deliveryId)
      })
      channel.beside = async (id) => {
        const jobs = app.resolve(JOBS)
        const again = await jobs.enqueue(deliveryJobAgain, { id, replay: await replayOf(id) })
        // The drain under way runs it beside this send.
        for (let poll = 0; again !== undefined && (await jobs.get(again)) !== undefined; poll++) {
          if (poll === 5_000) throw new Error('the second run of the job never ran')
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      }
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    const drain = () => app.resolve(JOBS).drain()
    // The replay a job of the delivery must carry to send it now.
    const replayOf = async (id: string): Promise<number> => {
      const { rows } = await sql<{
        replays: number
      }>`select replays from mortar_delivery where id = ${id}`.execute(app.resolve(databaseToken()))
      return Number(rows[0]?.replays ?? 0)
    }
    const row = async (id: string) => (await app.resolve(DELIVERIES).get(id)) as DeliveryRecord
    const jobsOf = async (id: string) =>
      (await app.resolve(JOBS).list({ name: NOTIFY_JOBS.deliver, limit: 1_000 })).filter(
        (job) =>
          (job.state === 'pending' || job.state === 'scheduled') &&
          (job.payload as { id?: string }).id === id,
      )

    /** Lets every send under way past its bound answer, and the ledger take what it records. */
    async function answerLate(id: string): Promise<void> {
      const waiting = channel.late.filter((send) => send.id === id)
      channel.late = channel.late.filter((send) => send.id !== id)
      for (const send of waiting) {
        // Recorded only while the delivery is as that send's attempt left it: no attempt marked
        // it since, no replay requeued it.
        const { status } = await row(id)
        const holds =
          channel.marksOf(id).at(-1) === send.marked && (status === 'sending' || status === 'dead')
        send.answer()
        if (send.marked.answer === 'late-accepted' && holds) {
          send.marked.recorded = true
          await vi.waitFor(async () => expect((await row(id)).status).toBe('sent'))
        }
      }
    }

    async function run(id: string, given: Step): Promise<void> {
      switch (given.kind) {
        case 'drain':
          return drain()
        case 'lapse':
          app.clock.advance(LAPSE)
          return drain()
        case 'rerun': {
          await app.resolve(JOBS).enqueue(deliveryJobAgain, { id, replay: await replayOf(id) })
          return drain()
        }
        case 'vanish': {
          const replay = await replayOf(id)
          const mark = await app.resolve(LEDGER).mark({ id, replay }, 1, 2 * BOUND)
          if (mark?.held === true) channel.marksOf(id).push({ by: 'vanished' })
          return
        }
        case 'answer-late':
          return answerLate(id)
        case 'replay':
          if ((await row(id)).status === 'dead') await app.resolve(DELIVERIES).replay(id)
          return
      }
    }

    it('ends sent or dead as its last attempt did, counting every attempt and every possible duplicate, never sending twice without cause, never lost', async () => {
      let n = 0
      await fc.assert(
        fc.asyncProperty(
          fc.array(answer, { maxLength: 6 }),
          fc.array(step, { minLength: 1, maxLength: 8 }),
          async (script, steps) => {
            channel.script = [...script]
            n += 1
            const { deliveries } = await app
              .resolve(NOTIFIER)
              .notify({ id: `life-${n}` }, new Ping())
            const id = deliveries[0]?.id as string
            for (const given of steps) {
              await run(id, given)
              // Never lost: finished, or a job of it waits (a mark held by a vanished worker
              // included: its job runs once the lease passes).
              const now = await row(id)
              if (!['sent', 'dead', 'suppressed'].includes(now.status)) {
                expect(await jobsOf(id)).not.toHaveLength(0)
              }
            }
            // Everything runs out: late answers come, leases pass, jobs run.
            for (let round = 0; round < 30; round++) {
              await answerLate(id)
              app.clock.advance(LAPSE)
              await drain()
              const lateOnes = channel.late.filter((send) => send.id === id)
              if (lateOnes.length === 0 && (await jobsOf(id)).length === 0) break
            }
            await answerLate(id)
            const end = await row(id)
            const marks = channel.marksOf(id)
            const last = marks.at(-1)
            expect(['sent', 'dead']).toContain(end.status)
            // Final status consistent with the last attempt.
            const lastAccepted = last !== undefined && accepted(last)
            expect(end.status === 'sent').toBe(lastAccepted)
            if (end.status === 'dead') {
              expect(end.lastError).toMatch(
                last?.answer === 'permanent'
                  ? /^permanent:/
                  : last?.answer === 'not-accepted'
                    ? /^not-accepted:/
                    : /^transient:/,
              )
            }
            // Every marked attempt counted, and every one after an ambiguous one as a possible
            // duplicate.
            expect(end.attempts).toBe(marks.length)
            const afterAmbiguous = marks.filter(
              (_, i) => i > 0 && ambiguous(marks[i - 1] as Marked),
            )
            expect(end.possibleDuplicates).toBe(afterAmbiguous.length)
            // Never two sends without an ambiguous outcome between them: nothing after an
            // acceptance, and every message the recipient got after the first was counted.
            const firstAccepted = marks.findIndex(accepted)
            if (firstAccepted !== -1) expect(firstAccepted).toBe(marks.length - 1)
            expect(end.possibleDuplicates).toBeGreaterThanOrEqual(
              (channel.delivered.get(id) ?? 0) - 1,
            )
            expect(sentEvents.filter((event) => event === id).length).toBe(
              end.status === 'sent' ? 1 : 0,
            )
          },
        ),
        { numRuns: runs },
      )
    }, 120_000)
  })
}
