// Every error of @mortar/notify. The README lists each code; errors.test.ts checks the list.
import { MortarError, type MortarErrorOptions } from '@mortar/core'

/**
 * The notify module or a channel was given options it cannot work with: a missing sender, a
 * malformed URL, two channels of one name, a category that is both critical and unknown. Raised
 * when the module or channel is created, so a bad deployment fails at start-up. The message
 * names the option, never a secret's value.
 *
 * @example
 * ```ts
 * import { NotifyConfigError, smsChannel } from '@mortar/notify'
 *
 * try {
 *   smsChannel({ baseUrl: 'not a url', accountSid: 'AC1', authToken: '', from: '+15550100' })
 * } catch (error) {
 *   if (error instanceof NotifyConfigError) console.error(error.message)
 * }
 * ```
 */
export class NotifyConfigError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_NOTIFY_CONFIG', 500, message, options)
  }
}

/**
 * 503: a part of notify cannot run: its driver is not installed (`nodemailer` for SMTP), or
 * `notify()` was called where no app with the notify module is running.
 *
 * @example
 * ```ts
 * import { NotifyUnavailableError } from '@mortar/notify'
 *
 * throw new NotifyUnavailableError('Install nodemailer to send mail over SMTP: npm i nodemailer')
 * ```
 */
export class NotifyUnavailableError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_NOTIFY_UNAVAILABLE', 503, message, options)
  }
}

/**
 * 422: `notify()` was given a recipient the ledger cannot store: an id that is not 1 to 191
 * characters, or a field (`email`, `phone`, `locale`, `timeZone`, `routes.<channel>`) that is
 * not text, holds a NUL character or is over 64 KiB in UTF-8. Raised before anything is
 * written, for every recipient of the call; `details.field` names the field, never its value.
 *
 * @example
 * ```ts
 * import { NotifyRecipientError } from '@mortar/notify'
 *
 * throw new NotifyRecipientError('email', 'holds a NUL character')
 * ```
 */
export class NotifyRecipientError extends MortarError {
  readonly field: string

  constructor(field: string, problem: string) {
    super('E_NOTIFY_RECIPIENT', 422, `notify(): the recipient's ${field} ${problem}.`, {
      details: { field },
    })
    this.field = field
  }
}

/** Why {@link verifyWebhook} refused a webhook. */
export type WebhookRejection = 'missing-headers' | 'timestamp' | 'signature' | 'config'

const WEBHOOK_MESSAGES: Record<WebhookRejection, string> = {
  'missing-headers':
    'The webhook has no webhook-id, webhook-timestamp or webhook-signature header.',
  timestamp: 'The webhook timestamp is missing, malformed or too far from now (a replay?).',
  signature: 'No webhook signature matches: the body was changed or the secret is wrong.',
  config: 'The webhook secret is malformed.',
}

/**
 * 401: a received webhook failed verification (missing headers, a stale timestamp, no matching
 * signature), or a signing secret is malformed (`reason: 'config'`).
 *
 * @example
 * ```ts
 * import { verifyWebhook, WebhookSignatureError } from '@mortar/notify'
 *
 * try {
 *   verifyWebhook(secret, headers, body)
 * } catch (error) {
 *   if (error instanceof WebhookSignatureError) return new Response(null, { status: 401 })
 * }
 * ```
 */
export class WebhookSignatureError extends MortarError {
  readonly reason: WebhookRejection

  constructor(reason: WebhookRejection, message = WEBHOOK_MESSAGES[reason]) {
    super('E_WEBHOOK_SIGNATURE', reason === 'config' ? 500 : 401, message, { details: { reason } })
    this.reason = reason
  }
}

/**
 * 404: no delivery has this id (`replay`, `delivery`).
 *
 * @example
 * ```ts
 * import { DeliveryNotFoundError } from '@mortar/notify'
 *
 * throw new DeliveryNotFoundError('d-1')
 * ```
 */
export class DeliveryNotFoundError extends MortarError {
  constructor(id: string) {
    super('E_DELIVERY_NOT_FOUND', 404, `No delivery has the id '${id}'.`, { details: { id } })
  }
}

/**
 * 409: only dead deliveries with a rendered message can be replayed; this one is `status` (or was
 * dead when written: its renderer threw, so notify again once the notification is fixed).
 *
 * @example
 * ```ts
 * import { DeliveryNotReplayableError } from '@mortar/notify'
 *
 * throw new DeliveryNotReplayableError('d-1', 'sent')
 * ```
 */
export class DeliveryNotReplayableError extends MortarError {
  constructor(id: string, status: string) {
    super(
      'E_DELIVERY_NOT_REPLAYABLE',
      409,
      `Delivery '${id}' is ${status}; only dead deliveries with a message, or a digest's whose batch is kept, can be replayed.`,
      { details: { id, status } },
    )
  }
}

/**
 * 422: a recipient tried to turn off a category marked required (account security, receipts).
 *
 * @example
 * ```ts
 * import { PreferenceRequiredError } from '@mortar/notify'
 *
 * throw new PreferenceRequiredError('security')
 * ```
 */
export class PreferenceRequiredError extends MortarError {
  constructor(category: string) {
    super(
      'E_PREFERENCE_REQUIRED',
      422,
      `Notifications of category '${category}' are required and cannot be turned off.`,
      { details: { category } },
    )
  }
}

/**
 * 503: the database ended the caller's transaction to break a deadlock on inbox items: it
 * changed an item (a mark, an archive), then another, while a concurrent transaction changed
 * the same two in the other order. The recipients' inbox versions never deadlock (each
 * transaction raises them just before its commit, sorted by recipient, whatever order its calls
 * came in); the items are the app's data, which only the app can change in one order. The
 * transaction was rolled back: run it again. `cause` is the driver's error.
 *
 * @example
 * ```ts
 * import { InboxConflictError } from '@mortar/notify'
 *
 * throw new InboxConflictError(new Error('deadlock detected'))
 * ```
 */
export class InboxConflictError extends MortarError {
  constructor(cause: unknown) {
    super(
      'E_INBOX_CONFLICT',
      503,
      'A concurrent transaction changed the same inbox items in another order; this transaction was rolled back: run it again.',
      { cause },
    )
  }
}

/**
 * 400: a marker, cursor or stream event id the inbox hands out came back altered, or from
 * another recipient's page (a tab left open under another account): it is bound to the
 * recipient it was made for. Nothing was changed; reload the page for markers of this inbox.
 * `details.path` names the parameter (`upTo`, `cursor`, `after`, `Last-Event-ID`).
 *
 * @example
 * ```ts
 * import { InboxMarkerError } from '@mortar/notify'
 *
 * throw new InboxMarkerError('upTo')
 * ```
 */
export class InboxMarkerError extends MortarError {
  constructor(path: string) {
    super(
      'E_INBOX_MARKER',
      400,
      `The inbox ${path} is not one this inbox handed out for you (altered, or another account's): reload the page.`,
      { details: { path } },
    )
  }
}
