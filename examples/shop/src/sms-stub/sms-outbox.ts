import { randomBytes } from 'node:crypto'

/** One text message the stub took. */
export interface StubSms {
  /** The stub's message id, `SM…`, as the provider would answer. */
  readonly sid: string
  readonly to: string
  readonly from: string
  readonly body: string
  /** The `Idempotency-Key` it came with: the delivery id of `@mortar/notify`. */
  readonly idempotencyKey: string | undefined
  readonly receivedAt: string
}

/**
 * The messages the development SMS provider took, newest last, at most `limit` of them (the
 * oldest go first). A message sent again with an `Idempotency-Key` the outbox holds is answered
 * with the first one, as providers do, so a retried delivery is one message.
 */
export class SmsOutbox {
  readonly #messages: StubSms[] = []
  readonly #limit: number

  constructor(limit = 500) {
    this.#limit = limit
  }

  /** Takes a message, or finds the one taken with the same idempotency key. */
  take(input: Omit<StubSms, 'sid' | 'receivedAt'>): StubSms {
    const key = input.idempotencyKey
    const earlier =
      key === undefined ? undefined : this.#messages.find((sms) => sms.idempotencyKey === key)
    if (earlier !== undefined) return earlier
    const sms: StubSms = {
      ...input,
      sid: `SM${randomBytes(16).toString('hex')}`,
      receivedAt: new Date().toISOString(),
    }
    this.#messages.push(sms)
    if (this.#messages.length > this.#limit) this.#messages.shift()
    return sms
  }

  /** The messages, newest first. */
  list(): readonly StubSms[] {
    return [...this.#messages].reverse()
  }
}
