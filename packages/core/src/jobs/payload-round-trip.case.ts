// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): a handler gets the
// payload that was enqueued, exactly, or the enqueue fails and nothing is stored. JSON changed
// some values into others the schema also took (-0 into 0, NaN into null, a Map into {}), and
// the job ran on them.
import fc from 'fast-check'
import { expect } from 'vitest'
import { z } from 'zod'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'

class Money {
  readonly cents = 5
}

// [ <hole>, 1 ]: JSON writes the hole as null.
const withHole: number[] = []
withHole[1] = 1

/** Values JSON would change, each under a schema that also takes what it would change into. */
const CHANGED: readonly (readonly [string, unknown])[] = [
  ['-0', -0],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['a Date', new Date(0)],
  ['a Map', new Map([['a', 1]])],
  ['a Set', new Set([1])],
  ['an instance of a class', new Money()],
  ['an undefined item', [1, undefined]],
  ['a hole', withHole],
  ['a function item', [() => 1]],
  ['a nested -0', { order: { lines: [{ amount: -0 }] } }],
  // An own key JSON keeps but a schema's copy of the object assigns as its prototype.
  ['an own __proto__ key', JSON.parse('{"lines":[{"__proto__":5,"a":1}]}')],
]

/** The jobs to register, and the check to run on the started app's queue. */
export function payloadRoundTripCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue): Promise<void>
} {
  const received = new Map<number, unknown>()
  const carry = defineJob({
    name: 'test.carry',
    schema: z.object({ i: z.number().int(), value: z.unknown() }),
    handler: ({ i, value }) => {
      received.set(i, value)
    },
  })
  const score = defineJob({
    name: 'test.score',
    schema: z.object({ score: z.number().nullable() }),
    handler: () => undefined,
  })
  const dated = defineJob({
    name: 'test.dated_exactly',
    schema: z.object({ at: z.coerce.date(), note: z.string().optional() }),
    handler: ({ at }) => {
      received.set(-1, at)
    },
  })
  return {
    jobs: [carry, score, dated],
    async check(jobs) {
      for (const [what, value] of CHANGED) {
        await expect(jobs.enqueue(carry, { i: 0, value }), what).rejects.toMatchObject({
          code: 'E_VALIDATION',
          issues: [{ code: 'not_json' }],
        })
      }
      await expect(jobs.enqueue(score, { score: Number.NaN })).rejects.toMatchObject({
        code: 'E_VALIDATION',
        message: expect.stringContaining('NaN into null at score'),
      })
      expect((await jobs.status()).counts).toEqual([])

      // Any JSON value (strings with lone surrogates, deep nesting, long numbers) comes back as
      // it went; -0, which JSON writes as 0, and an own __proto__ key are the ones refused.
      const sent = new Map<number, unknown>()
      let next = 0
      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), async (value) => {
          const i = ++next
          const enqueued = jobs.enqueue(carry, { i, value }).then(
            () => true,
            () => false,
          )
          expect(await enqueued).toBe(!refused(value))
          if (!refused(value)) sent.set(i, value)
        }),
        { numRuns: 60 },
      )
      // A change the schema reads back the same is stored: a Date it coerces, a field that is
      // undefined.
      await jobs.enqueue(dated, { at: new Date(1_234), note: undefined })
      await jobs.drain()
      for (const [i, value] of sent) expect(received.get(i)).toEqual(value)
      expect(received.get(-1)).toEqual(new Date(1_234))
      expect((await jobs.status()).counts).toEqual([])
    },
  }
}

function refused(value: unknown): boolean {
  if (Object.is(value, -0)) return true
  if (typeof value !== 'object' || value === null) return false
  return Object.hasOwn(value, '__proto__') || Object.values(value).some(refused)
}
