import { randomBytes } from 'node:crypto'
import { isDevelopment } from '@mortar/core'
import { NotifyConfigError } from '../../errors.js'
import type { ChannelResult } from '../channel.js'
import type { ComposedMail, MailTransport } from './mail-transport.js'

/** A mail the {@link DevMailbox} captured. */
export interface CapturedMail extends ComposedMail {
  /** The mailbox's own id for it (used in the page's links). */
  readonly id: string
  readonly receivedAt: Date
}

/** Options of {@link devMailbox}. */
export interface DevMailboxOptions {
  /** How many mails are kept, newest first; older ones are dropped. 500 by default. */
  readonly capacity?: number
  /** The environment whose `NODE_ENV` it reads; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/**
 * A mail transport for development: nothing leaves the machine, every mail is kept in memory
 * (the newest `capacity`) and shown by {@link devMailboxPage}. Tests read it directly.
 * It takes mail only where `NODE_ENV` is `development` or `test` (Vitest sets `test`): anywhere
 * else, NODE_ENV unset included, the notify module refuses to start with it
 * (`E_NOTIFY_CONFIG`), and a mail given to it anyway is `not-accepted` (retried, then dead and
 * replayable once a real transport is set), never marked sent while it reaches no one.
 * See {@link devMailbox}.
 */
export class DevMailbox implements MailTransport {
  readonly #capacity: number
  readonly #env: Readonly<Record<string, string | undefined>>
  #mails: CapturedMail[] = []
  readonly #waiters = new Set<() => void>()

  constructor(options: DevMailboxOptions = {}) {
    this.#capacity = options.capacity ?? 500
    // Taking mail it keeps nowhere (0, NaN) would report it accepted while no one can read it.
    if (!Number.isSafeInteger(this.#capacity) || this.#capacity < 1) {
      throw new NotifyConfigError('devMailbox: capacity must be a whole number of mails ≥ 1.')
    }
    this.#env = options.env ?? process.env
  }

  /** Refuses, at the notify module's start, to run outside development and tests. */
  async open(): Promise<void> {
    const refused = this.#refusal()
    if (refused !== undefined) throw new NotifyConfigError(`The ${refused}.`)
  }

  async send(mail: ComposedMail): Promise<ChannelResult> {
    const refused = this.#refusal()
    if (refused !== undefined) return { status: 'not-accepted', reason: refused }
    const captured: CapturedMail = {
      ...mail,
      id: randomBytes(8).toString('hex'),
      receivedAt: new Date(),
    }
    this.#mails = [captured, ...this.#mails].slice(0, this.#capacity)
    for (const wake of this.#waiters) wake()
    return { status: 'accepted', providerMessageId: mail.messageId }
  }

  /** The captured mails, newest first; only those to `to` when given. */
  messages(to?: string): readonly CapturedMail[] {
    return to === undefined ? [...this.#mails] : this.#mails.filter((mail) => mail.to === to)
  }

  /** The captured mail with this id. */
  find(id: string): CapturedMail | undefined {
    return this.#mails.find((mail) => mail.id === id)
  }

  /**
   * Resolves with the first mail (newest first) that `match` accepts, waiting for one to arrive
   * up to `timeoutMs` (5 000 by default); rejects after that.
   */
  waitFor(match: (mail: CapturedMail) => boolean, timeoutMs = 5_000): Promise<CapturedMail> {
    const found = this.#mails.find(match)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const check = () => {
        const mail = this.#mails.find(match)
        if (mail === undefined) return
        done()
        resolve(mail)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`No matching mail arrived in the dev mailbox within ${timeoutMs} ms.`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(check)
      }
      this.#waiters.add(check)
    })
  }

  /** Why it takes no mail here, if it does not. */
  #refusal(): string | undefined {
    const environment = this.#env.NODE_ENV
    // A production app started without NODE_ENV would otherwise mark its mail sent while it
    // reached no one.
    if (isDevelopment(this.#env)) return undefined
    const where = environment === undefined ? 'NODE_ENV is unset' : `NODE_ENV=${environment}`
    return `development mailbox takes mail only with NODE_ENV=development or test (${where}), since it keeps mail in memory instead of sending it: give the mail channel a real transport, such as smtpTransport({ url }), or set NODE_ENV=development`
  }

  /** Forgets every captured mail. */
  clear(): void {
    this.#mails = []
  }
}

/**
 * A mailbox for development: pass it as the mail channel's transport, mount
 * {@link devMailboxPage} to read what was sent.
 *
 * @example
 * ```ts
 * import { devMailbox, mailChannel } from '@mortar/notify'
 *
 * export const mailbox = devMailbox()
 * export const mail = mailChannel({ from: 'Shop <no-reply@shop.example>', transport: mailbox })
 * // in a test: const receipt = await mailbox.waitFor((m) => m.to === 'ada@example.com')
 * ```
 */
export function devMailbox(options: DevMailboxOptions = {}): DevMailbox {
  return new DevMailbox(options)
}
