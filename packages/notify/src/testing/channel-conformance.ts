import { thrownText } from '@mortar/core'
import type { VitestApi } from '@mortar/core/testing'
import { randomUUID } from 'node:crypto'
import {
  type Channel,
  type ChannelMessages,
  type ChannelName,
  type ChannelResult,
  DEFAULT_SEND_TIMEOUT_MS,
  type Outgoing,
} from '../channels/channel.js'
import { readChannelResult } from '../channels/channel-result.js'
import type { Recipient } from '../notification/recipient.js'

/**
 * One message a conformance receiver got: anything, with the idempotency key the provider
 * received as `key` for channels that pass one (a webhook's `webhook-id`, an API's header).
 */
export type ReceivedMessage = object

/** What a conformance setup returns: the channel under test and a receiver that sees its output. */
export interface ChannelConformanceSubject<C extends ChannelName> {
  readonly channel: Channel<C>
  /** A message the channel can send. */
  readonly message: ChannelMessages[C]
  /** An address the receiver accepts. */
  readonly to: string
  /** An address the channel or its provider refuses for good (`permanent`). */
  readonly invalidTo: string
  /**
   * Everything the receiver got so far, oldest first. For a channel that takes idempotency keys
   * or is `idempotent`, each entry carries the key the provider got as `key`.
   */
  received(): readonly ReceivedMessage[] | Promise<readonly ReceivedMessage[]>
  /**
   * A channel and an address where the provider is down (the same channel and a closed port, or
   * the channel configured with a dead base URL); omit for channels with no remote end.
   */
  readonly unreachable?: { readonly channel: Channel<C>; readonly to: string }
  /** True when the provider gets the delivery's id as an idempotency key. */
  readonly takesIdempotencyKey?: boolean
  /**
   * A recipient with an address on this channel and the address `route()` must find, and one for
   * whom it must find none.
   */
  readonly routed?: {
    readonly recipient: Recipient
    readonly address: string
    readonly unrouted: Recipient
  }
  /** Runs after the suite: close servers, drop schemas. */
  dispose?(): void | Promise<void>
}

/** One check of the channel contract, runnable on its own (the kit's own tests run it on broken channels). */
export interface ChannelCheck {
  readonly title: string
  run<C extends ChannelName>(subject: ChannelConformanceSubject<C>): Promise<void>
}

/** Options of {@link channelConformance}. */
export interface ChannelConformanceOptions {
  /** Set to skip the suite with a one-line notice saying why (an unset server variable). */
  readonly skip?: string | undefined
}

function outgoing<C extends ChannelName>(
  subject: ChannelConformanceSubject<C>,
  overrides: Partial<Outgoing<ChannelMessages[C]>> = {},
): Outgoing<ChannelMessages[C]> {
  return {
    id: randomUUID(),
    to: subject.to,
    message: subject.message,
    recipientId: `conformance-${randomUUID()}`,
    type: 'conformance.check',
    attempt: 1,
    signal: new AbortController().signal,
    ...overrides,
  }
}

/** The longest the kit waits for the answer to a send whose signal it aborted. */
const ABORTED_ANSWER_MS = 1_000

function fail(message: string): never {
  throw new Error(`Channel contract: ${message}`)
}

function checkShape<C extends ChannelName>(
  channel: Channel<C>,
  result: unknown,
): asserts result is ChannelResult {
  // Read as the ledger reads it: what it would record as ambiguous (dead, never retried) fails.
  const read = readChannelResult(result, channel.name)
  if (read.status === 'ambiguous') fail(`send() must resolve a result: ${read.reason}`)
  const { status } = read
  const reason = (result as { reason?: unknown }).reason
  if (status !== 'accepted' && (typeof reason !== 'string' || reason.trim() === '')) {
    fail(`a '${status}' result must carry a reason`)
  }
  const sentTo = (result as { sentTo?: unknown }).sentTo
  if (
    sentTo !== undefined &&
    (!Array.isArray(sentTo) || sentTo.some((address) => typeof address !== 'string'))
  ) {
    fail(`a result's sentTo must be a list of addresses, got ${JSON.stringify(sentTo)}`)
  }
}

async function sendSafely<C extends ChannelName>(
  channel: Channel<C>,
  message: Outgoing<ChannelMessages[C]>,
): Promise<ChannelResult> {
  let result: unknown
  try {
    result = await channel.send(message)
  } catch (error) {
    fail(`send() threw (${thrownText(error)}); it must report failures as results`)
  }
  checkShape(channel, result)
  return result
}

function keyOf(entry: ReceivedMessage | undefined): unknown {
  return (entry as { readonly key?: unknown } | undefined)?.key
}

/** The key of a channel that claims to take keys, whose receiver must record them. */
function recordedKey(entry: ReceivedMessage | undefined): unknown {
  // A receiver that records the key under another name would read as a wrong key: say so.
  if (entry === undefined || !('key' in entry))
    fail(
      `received() returned ${entry === undefined ? 'no entry' : `an entry with no 'key' (${Object.keys(entry).join(', ') || 'no fields'})`} for a channel that takes keys: record the key the provider got as \`key\` on each entry`,
    )
  return keyOf(entry)
}

async function receivedCount<C extends ChannelName>(
  subject: ChannelConformanceSubject<C>,
): Promise<number> {
  return (await subject.received()).length
}

/**
 * The checks of the channel contract; {@link channelConformance} registers each as a test.
 */
export const channelChecks: readonly ChannelCheck[] = [
  {
    title: 'sends a message the receiver gets exactly once, and reports it accepted',
    async run(subject) {
      const before = await receivedCount(subject)
      const result = await sendSafely(subject.channel, outgoing(subject))
      if (result.status !== 'accepted')
        fail(
          `a valid message to a live receiver was '${result.status}': ${'reason' in result ? result.reason : ''}`,
        )
      const after = await receivedCount(subject)
      if (after !== before + 1)
        fail(`the receiver got ${after - before} messages for one accepted send`)
    },
  },
  {
    title: 'reports an address that can never work as permanent and sends nothing',
    async run(subject) {
      const before = await receivedCount(subject)
      const result = await sendSafely(subject.channel, outgoing(subject, { to: subject.invalidTo }))
      if (result.status !== 'permanent')
        fail(`an invalid address was '${result.status}', not 'permanent'`)
      if ((await receivedCount(subject)) !== before)
        fail('a permanent failure still reached the receiver')
    },
  },
  {
    title: 'refuses an invalid address in validate() when it has one',
    async run(subject) {
      const validate = subject.channel.validate
      if (validate === undefined) return
      const reason = validate.call(subject.channel, subject.message, subject.invalidTo)
      const ok = validate.call(subject.channel, subject.message, subject.to)
      if (ok !== undefined) fail(`validate() refused a valid message: ${ok}`)
      if (reason === undefined) {
        // Some addresses are refused by the provider only (a mailbox that does not exist).
        const result = await sendSafely(
          subject.channel,
          outgoing(subject, { to: subject.invalidTo }),
        )
        if (result.status !== 'permanent')
          fail('validate() passed an address that send() does not report as permanent')
      }
    },
  },
  {
    title:
      'reports a provider that is down as not-accepted or transient, never accepted, and never throws',
    async run(subject) {
      const unreachable = subject.unreachable
      if (unreachable === undefined) return
      const result = await sendSafely(
        unreachable.channel,
        outgoing(subject, { to: unreachable.to }),
      )
      if (result.status === 'accepted') fail('a provider that is down reported accepted')
      if (result.status === 'permanent')
        fail('a provider that is down is a reason to retry, not permanent')
    },
  },
  {
    title: 'passes the delivery id to the provider as its idempotency key',
    async run(subject) {
      if (subject.takesIdempotencyKey !== true) return
      const message = outgoing(subject)
      const result = await sendSafely(subject.channel, message)
      if (result.status !== 'accepted') fail(`the send was '${result.status}'`)
      const last = recordedKey((await subject.received()).at(-1))
      if (last !== message.id)
        fail(`the provider got key '${last}', not the delivery id '${message.id}'`)
    },
  },
  {
    title:
      'sends the same delivery twice as two attempts of one message (same key) when it takes keys',
    async run(subject) {
      if (subject.takesIdempotencyKey !== true) return
      const message = outgoing(subject)
      await sendSafely(subject.channel, message)
      await sendSafely(subject.channel, { ...message, attempt: 2 })
      const keys = (await subject.received()).slice(-2).map(recordedKey)
      if (keys[0] !== message.id || keys[1] !== message.id)
        fail('a retry of one delivery carried a different key')
    },
  },
  {
    title:
      'makes one delivery sent twice one message when it is marked idempotent: one arrival, or the delivery id as the key of each',
    async run(subject) {
      // The ledger trusts `idempotent: true` and marks no send of it: a retry that is a second
      // message would go out unseen, never counted as a possible duplicate.
      if (subject.channel.idempotent !== true) return
      const before = await receivedCount(subject)
      const message = outgoing(subject)
      await sendSafely(subject.channel, message)
      await sendSafely(subject.channel, { ...message, attempt: 2 })
      const arrived = (await subject.received()).slice(before)
      if (arrived.length > 1 && arrived.some((entry) => keyOf(entry) !== message.id))
        fail(
          `it is marked idempotent, yet one delivery sent twice arrived as ${arrived.length} messages without the delivery id as the key of each (give the provider outgoing.id, or drop idempotent)`,
        )
    },
  },
  {
    title:
      'answers a send given up (its signal aborted, before or once it started) with a result at once, never a throw or a hang',
    async run(subject) {
      // The ledger gives a send up at its bound and aborts its signal; a channel that then
      // never answers holds its mark to the lease's end and reports nothing. An aborted send
      // has nothing left to wait for, so its answer is due at once: the kit waits the shorter
      // of the channel's sendTimeoutMs and ABORTED_ANSWER_MS, not the channel's whole bound
      // (30 s by default), for a channel that hangs.
      const bound = Math.min(
        subject.channel.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
        ABORTED_ANSWER_MS,
      )
      for (const when of ['before', 'once'] as const) {
        const controller = new AbortController()
        const givenUp = new DOMException('given up', 'TimeoutError')
        if (when === 'before') controller.abort(givenUp)
        const sent = sendSafely(subject.channel, outgoing(subject, { signal: controller.signal }))
        // Once the send started: a channel that looks at the signal only on entry hangs here.
        if (when === 'once') controller.abort(givenUp)
        let timer: NodeJS.Timeout | undefined
        const hung = new Promise<'hung'>((resolve) => {
          timer = setTimeout(() => resolve('hung'), bound)
        })
        try {
          const answer = await Promise.race([sent, hung])
          if (answer === 'hung')
            fail(
              `a send whose signal was aborted ${when} it started gave no answer within ${bound} ms: an aborted send must answer at once`,
            )
        } finally {
          clearTimeout(timer)
        }
      }
    },
  },
  {
    title: 'finds the address of a recipient who has one, and none for a recipient without',
    async run(subject) {
      if (subject.routed === undefined) return
      const found = subject.channel.route(subject.routed.recipient)
      if (found !== subject.routed.address)
        fail(`route() found '${found}', not '${subject.routed.address}'`)
      const none = subject.channel.route(subject.routed.unrouted)
      if (none !== undefined) fail(`route() of a recipient with no address returned '${none}'`)
    },
  },
  {
    title: 'sends one message per call under concurrency',
    async run(subject) {
      const before = await receivedCount(subject)
      const results = await Promise.all(
        Array.from({ length: 10 }, () => sendSafely(subject.channel, outgoing(subject))),
      )
      const accepted = results.filter((result) => result.status === 'accepted').length
      if (accepted !== 10) fail(`${10 - accepted} of 10 concurrent sends were not accepted`)
      const after = await receivedCount(subject)
      if (after - before !== 10) fail(`the receiver got ${after - before} messages for 10 sends`)
    },
  },
]

/**
 * Registers vitest tests that check a {@link Channel} against the contract: accepted sends
 * arrive once, invalid addresses are permanent and send nothing, a provider that is down is
 * never reported accepted and never makes `send` throw, idempotency keys are the delivery id,
 * `route()` finds addresses. Every built-in channel runs it; run it on yours. The first argument
 * is vitest itself (see `VitestApi` in `@mortar/core/testing`): the kit does not import it, so
 * this entry loads without vitest.
 *
 * @example
 * ```ts
 * import { channelConformance } from '@mortar/notify/testing'
 * import * as vitest from 'vitest'
 * import { pushChannel } from './push-channel.js'
 *
 * channelConformance(vitest, 'push', async () => {
 *   const receiver = await startFakePushServer()
 *   return {
 *     channel: pushChannel({ url: receiver.url }),
 *     message: { title: 'Hello' },
 *     to: 'device-1',
 *     invalidTo: '',
 *     received: () => receiver.messages,
 *     dispose: () => receiver.close(),
 *   }
 * })
 * ```
 */
export function channelConformance<C extends ChannelName>(
  vitest: Pick<VitestApi, 'describe' | 'it' | 'beforeAll' | 'afterAll'>,
  name: string,
  setup: () => ChannelConformanceSubject<C> | Promise<ChannelConformanceSubject<C>>,
  options: ChannelConformanceOptions = {},
): void {
  const { afterAll, beforeAll, describe, it } = vitest
  const skip = options.skip
  if (skip !== undefined) console.info(`[skipped] ${name} channel conformance: ${skip}`)
  // Skipped only when the caller's server is not configured; the reason is printed and titled.
  const title = `${name} channel conformance${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    let subject: ChannelConformanceSubject<C> | undefined
    beforeAll(async () => {
      subject = await setup()
    })
    afterAll(async () => {
      await subject?.dispose?.()
      await subject?.channel.close?.()
      if (subject?.unreachable?.channel !== subject?.channel)
        await subject?.unreachable?.channel.close?.()
    })
    for (const check of channelChecks) {
      it(check.title, async () => {
        if (subject === undefined) throw new Error('The conformance setup did not finish.')
        await check.run(subject)
      })
    }
  })
}
