/** A file attached to a {@link MailMessage}. */
export interface MailAttachment {
  readonly filename: string
  /** Text as is, or bytes as `{ base64 }` (the ledger stores messages as JSON). */
  readonly content: string | { readonly base64: string }
  /** The MIME type; guessed from the file name when absent. */
  readonly contentType?: string | undefined
}

/**
 * What `toMail()` returns: a subject and a text and/or HTML body. `from` falls back on the mail
 * channel's default sender. Build bodies with the {@link html} template tag, which escapes what
 * it interpolates.
 *
 * @example
 * ```ts
 * import { html, type MailMessage } from '@mortar/notify'
 *
 * const message: MailMessage = {
 *   subject: 'Your receipt',
 *   text: 'Thanks for your order.',
 *   html: html`<p>Thanks for your order, ${name}.</p>`.toString(),
 *   attachments: [{ filename: 'receipt.txt', content: 'Total: 12.00 EUR' }],
 * }
 * ```
 */
export interface MailMessage {
  readonly subject: string
  readonly text?: string | undefined
  readonly html?: string | undefined
  readonly from?: string | undefined
  readonly replyTo?: string | undefined
  readonly cc?: readonly string[] | undefined
  readonly bcc?: readonly string[] | undefined
  readonly attachments?: readonly MailAttachment[] | undefined
  /** Extra headers (`List-Unsubscribe`, …). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}
