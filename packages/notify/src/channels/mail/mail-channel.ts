import { domainToASCII } from 'node:url'
import { z } from 'zod'
import { NotifyConfigError } from '../../errors.js'
import type { Channel, ChannelResult, Outgoing } from '../channel.js'
import type { MailMessage } from './mail-message.js'
import type { MailTransport } from './mail-transport.js'

/** Options of {@link mailChannel}. */
export interface MailChannelOptions {
  /** The default sender, `'Shop <no-reply@shop.example>'`; a message's own `from` wins. */
  readonly from: string
  /** Where mail goes: {@link smtpTransport}, a {@link DevMailbox}, or a plugin's transport. */
  readonly transport: MailTransport
}

// Pragmatic, not RFC 5322: one @, no spaces, control characters, quotes or brackets (which is
// also what keeps header injection out), a dot in the domain or `localhost`.
const LOCAL_PART = /^[^\s@<>()[\]\\,;:"]+$/
const DOMAIN_LABEL = /^[^\s@<>()[\]\\,;:".]+$/
// A display name is a quoted string (no quote or backslash inside) or words free of the
// characters parsers split or comment on: a name like 'x@evil.example, Eve' must not become a
// second recipient.
const NAMED = /^(?:"[^"\\\r\n]*"|[^()<>@,;:\\"[\]\r\n]*)\s*<([^<>\r\n]+)>$/

// RFC 5322 field names: printable ASCII but the colon.
const HEADER_NAME = /^[!-9;-~]+$/
// Headers the channel and the transport compose: recipients and sender go through the checked
// fields, the rest is the message's own identity and MIME structure (a second Content-Type, read
// first by most parsers, turns a text body into parts of the sender's choosing).
const COMPOSED_HEADERS = new Set([
  'subject',
  'message-id',
  'date',
  'mime-version',
  'to',
  'cc',
  'bcc',
  'from',
  'sender',
  'reply-to',
  'return-path',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'resent-from',
  'resent-sender',
])

// What a message's fields may hold at run time, whatever its type said: a renderer fed with
// request data, or a message read back from the ledger's JSON, may carry objects where text
// belongs, and nodemailer reads objects as instructions (`{ prepared: true, value }` writes a
// header raw, line breaks and all; `{ path }` reads a file, `{ href }` fetches a URL).
const oneLine = z.string().refine((text) => !/[\r\n]/.test(text), 'has a line break')
const MIME_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:\s*;.*)?$/
const mailShape = z.object({
  subject: oneLine,
  text: z.string().optional(),
  html: z.string().optional(),
  from: z.string().optional(),
  replyTo: z.string().optional(),
  cc: z.array(z.string()).optional(),
  bcc: z.array(z.string()).optional(),
  attachments: z
    .array(
      z.object({
        filename: z
          .string()
          .refine((name) => !hasControlCharacter(name), 'has a control character'),
        content: z.union([
          z.string(),
          z.strictObject({ base64: z.string().refine(isBase64, 'is not base64') }),
        ]),
        contentType: z
          .string()
          .refine(
            (type) => MIME_TYPE.test(type) && !hasControlCharacter(type),
            'is not a MIME type',
          )
          .optional(),
      }),
    )
    .optional(),
  headers: z.record(z.string(), oneLine).optional(),
})

function shapeProblem(message: unknown): string | undefined {
  const parsed = mailShape.safeParse(message)
  if (parsed.success) return undefined
  const issue = parsed.error.issues[0]
  const path = issue?.path.join('.') ?? ''
  return `the mail's ${path === '' ? 'message' : path} is refused: ${issue?.message ?? 'invalid'}`
}

// The base64 (or base64url) alphabet, line breaks allowed: the decoder skips any other
// character, so a data: URL or a stray word would go out as a garbled file, reported sent.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

function isBase64(text: string): boolean {
  const bare = text.replace(/\r?\n/g, '')
  return BASE64.test(bare) && bare.replace(/=+$/, '').length % 4 !== 1
}

function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 32 || code === 127) return true
  }
  return false
}

function isBareAddress(address: string): boolean {
  if (address.length > 254 || hasControlCharacter(address)) return false
  const at = address.lastIndexOf('@')
  if (at < 1) return false
  const local = address.slice(0, at)
  const labels = address.slice(at + 1).split('.')
  return LOCAL_PART.test(local) && labels.every((label) => DOMAIN_LABEL.test(label))
}

/** True when `address` (`a@b.example` or `Name <a@b.example>`) is a mail address the channel sends to. */
export function isMailAddress(address: string): boolean {
  if (address.length > 320 || hasControlCharacter(address)) return false
  return isBareAddress(NAMED.exec(address.trim())?.[1] ?? address)
}

/** An address as it goes in the envelope (and a server reports it): bare, lower case, its domain in ASCII. */
export function envelopeAddress(address: string): string {
  const bare = /<([^<>]*)>\s*$/.exec(address)?.[1] ?? address.trim()
  const at = bare.lastIndexOf('@')
  const domain = domainToASCII(bare.slice(at + 1)) || bare.slice(at + 1)
  return `${bare.slice(0, at)}@${domain}`.toLowerCase()
}

/**
 * The mail channel: composes a {@link MailMessage} (sender, Message-ID from the delivery id) and
 * hands it to its transport. Recipients' addresses come from `email`. See {@link mailChannel}.
 */
export class MailChannel implements Channel<'mail'> {
  readonly name = 'mail'
  readonly #from: string
  readonly #domain: string
  readonly #transport: MailTransport

  constructor(options: MailChannelOptions) {
    if (typeof options.from !== 'string' || !isMailAddress(options.from)) {
      throw new NotifyConfigError(
        `mailChannel: from '${String(options.from)}' is not a mail address.`,
      )
    }
    if (options.transport === undefined || typeof options.transport.send !== 'function') {
      throw new NotifyConfigError(
        'mailChannel needs a transport: smtpTransport({ url }) or devMailbox().',
      )
    }
    this.#from = options.from
    const bare = NAMED.exec(options.from.trim())?.[1] ?? options.from
    this.#domain = bare.slice(bare.lastIndexOf('@') + 1)
    this.#transport = options.transport
  }

  route(recipient: { readonly email?: string | undefined }): string | undefined {
    return recipient.email
  }

  validate(message: MailMessage, to: string): string | undefined {
    if (!isMailAddress(to)) return `'${to}' is not a mail address`
    const shape = shapeProblem(message)
    if (shape !== undefined) return shape
    if (message.subject.trim() === '') return 'the mail has no subject'
    if (message.text === undefined && message.html === undefined)
      return 'the mail has neither text nor html'
    for (const address of [
      message.from,
      message.replyTo,
      ...(message.cc ?? []),
      ...(message.bcc ?? []),
    ]) {
      if (address !== undefined && !isMailAddress(address))
        return `'${address}' is not a mail address`
    }
    for (const name of Object.keys(message.headers ?? {})) {
      if (!HEADER_NAME.test(name)) return `'${name}' is not a header name`
      const lower = name.toLowerCase()
      if (COMPOSED_HEADERS.has(lower) || lower.startsWith('content-'))
        return `the ${name} header is set by the mail channel, not in headers`
    }
    return undefined
  }

  /** Its transport's: see {@link MailTransport.sendTimeoutMs}. */
  get sendTimeoutMs(): number | undefined {
    return this.#transport.sendTimeoutMs
  }

  async open(): Promise<void> {
    await this.#transport.open?.()
  }

  async send(outgoing: Outgoing<MailMessage>): Promise<ChannelResult> {
    const invalid = this.validate(outgoing.message, outgoing.to)
    if (invalid !== undefined) return { status: 'permanent', reason: invalid }
    const message = outgoing.message
    // Those an earlier provider took the mail for (a fallback's) get no second copy.
    const sent = new Set((outgoing.sentTo ?? []).map(envelopeAddress))
    const unsent = (addresses: readonly string[] | undefined) =>
      sent.size === 0 ? addresses : addresses?.filter((to) => !sent.has(envelopeAddress(to)))
    return this.#transport.send(
      {
        messageId: `<${outgoing.id}@${this.#domain}>`,
        from: message.from ?? this.#from,
        to: outgoing.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        replyTo: message.replyTo,
        cc: unsent(message.cc),
        bcc: unsent(message.bcc),
        attachments: message.attachments,
        headers: message.headers,
      },
      outgoing.signal,
    )
  }

  async close(): Promise<void> {
    await this.#transport.close?.()
  }
}

/**
 * The mail channel.
 *
 * @example
 * ```ts
 * import { devMailbox, mailChannel, notifyModule, smtpTransport } from '@mortar/notify'
 *
 * const mailbox = devMailbox()
 * notifyModule({
 *   channels: [
 *     mailChannel({
 *       from: 'Shop <no-reply@shop.example>',
 *       transport: process.env.SMTP_URL ? smtpTransport({ url: process.env.SMTP_URL }) : mailbox,
 *     }),
 *   ],
 * })
 * ```
 */
export function mailChannel(options: MailChannelOptions): MailChannel {
  return new MailChannel(options)
}
