import type { ChannelResult } from '../channel.js'
import type { MailAttachment } from './mail-message.js'

/** A mail ready for a transport: the message with its sender, recipient and Message-ID filled in. */
export interface ComposedMail {
  /** `<delivery-id@sender-domain>`: the same on every retry, so receivers can spot a repeat. */
  readonly messageId: string
  readonly from: string
  readonly to: string
  readonly subject: string
  readonly text?: string | undefined
  readonly html?: string | undefined
  readonly replyTo?: string | undefined
  readonly cc?: readonly string[] | undefined
  readonly bcc?: readonly string[] | undefined
  readonly attachments?: readonly MailAttachment[] | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * Where the mail channel hands a composed mail: SMTP through nodemailer
 * ({@link smtpTransport}), the development mailbox ({@link DevMailbox}), or a provider's API in
 * a plugin. Every outcome is a {@link ChannelResult}.
 */
export interface MailTransport {
  /** Loads the driver and checks the options; the notify module calls it at start. */
  open?(): Promise<void>
  /** The longest one send may take, in ms (the mail channel's `sendTimeoutMs`); 30 000 when not given. */
  readonly sendTimeoutMs?: number
  send(mail: ComposedMail, signal: AbortSignal): Promise<ChannelResult>
  close?(): Promise<void>
}
