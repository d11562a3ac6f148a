import { lookup } from 'node:dns/promises'
import { delayOption, MAX_TIMER_MS } from '../../module/delay-option.js'
import { NotifyConfigError, NotifyUnavailableError } from '../../errors.js'
import type { ChannelResult } from '../channel.js'
import { isLoopbackAddress, isLoopbackUrl } from '../loopback.js'
import { safeDecode } from '../../notification/shown-address.js'
import { withoutSecrets } from '../without-secrets.js'
import { envelopeAddress } from './mail-channel.js'
import type { ComposedMail, MailTransport } from './mail-transport.js'

/**
 * The URL to hand nodemailer: `localhost` as the loopback address this machine's resolver gives
 * it (the hosts file first), any other host as it is. nodemailer asks the DNS servers before the
 * hosts file, so a resolver's answer for `localhost` (hostile, or a wildcard) would have
 * received the password that the loopback exemption lets go without TLS.
 */
async function pinnedLocalhost(
  url: URL,
): Promise<{ readonly url: string; readonly tls?: { readonly servername: string } }> {
  if (url.hostname.toLowerCase() !== 'localhost') return { url: url.href }
  const found = await lookup('localhost', { all: true }).catch(() => [])
  const local = found.find((entry) => isLoopbackAddress(entry.address))
  if (local === undefined) {
    throw new NotifyConfigError(
      "smtpTransport: 'localhost' does not resolve to a loopback address on this machine",
    )
  }
  const pinned = new URL(url.href)
  pinned.hostname = local.family === 6 ? `[${local.address}]` : local.address
  // A certificate for localhost is still checked against that name.
  return { url: pinned.href, tls: { servername: 'localhost' } }
}

/** Options of {@link smtpTransport}. */
export interface SmtpTransportOptions {
  /**
   * The server: `smtp://user:pass@host:587` or `smtps://…:465`. The password is never logged.
   * With credentials over `smtp://`, STARTTLS is required (nodemailer's `requireTLS`): a server
   * that offers none gets no password, the mail is `not-accepted`. Only a loopback host
   * (`localhost`, `127.0.0.0/8`, `[::1]`: a local relay) is spared. The URL carries no query
   * (nodemailer would read it as options over these): the scheme says TLS, the rest goes here.
   */
  readonly url: string
  /** Connections kept open and reused; 5 by default. */
  readonly maxConnections?: number
  /** Messages sent over one connection before it is replaced; 100 by default. */
  readonly maxMessages?: number
  /** Give up connecting, on the greeting or on a silent socket after this many ms; 30 000 by default. */
  readonly timeoutMs?: number
  /** TLS options passed to the socket (a private CA, `rejectUnauthorized: false` for a test server). */
  readonly tls?: { readonly rejectUnauthorized?: boolean; readonly ca?: string }
}

// The few members of nodemailer's pooled transport we call, so nodemailer stays an optional peer.
interface PooledTransport {
  sendMail(mail: Record<string, unknown>): Promise<SentInfo>
  close(): void
}

interface SentInfo {
  messageId?: string
  /** The recipients the server took the message for. */
  accepted?: (string | { address?: string })[]
  /** The recipients the server refused while it took the message for others (RCPT TO, or LMTP). */
  rejectedErrors?: (NodemailerError & { recipient?: string })[]
}

interface NodemailerError extends Error {
  code?: string
  originalCode?: string
  responseCode?: number
  permanent?: boolean
  command?: string
  timeoutType?: string
  /** Node's, on a socket's error: `connect` while connecting, `read` or `write` once connected. */
  syscall?: string
}

/**
 * SMTP through nodemailer's pooled transport (`nodemailer` is an optional peer, loaded when the
 * notify module starts). Replies and failures map to channel results: 5xx replies are
 * permanent; 4xx replies and failures before the server took anything (refused connection,
 * DNS, TLS and a certificate refused, credentials, a connect or greeting timeout, a connection
 * closed before its greeting)
 * are `not-accepted`; a failure once the
 * message was on its way is transient, since the server may have accepted it. Attachments are
 * content only: nodemailer's file and URL access is turned off.
 *
 * @example
 * ```ts
 * import { mailChannel, smtpTransport } from '@mortar/notify'
 *
 * const mail = mailChannel({
 *   from: 'Shop <no-reply@shop.example>',
 *   transport: smtpTransport({ url: process.env.SMTP_URL ?? 'smtp://127.0.0.1:2525' }),
 * })
 * ```
 */
export function smtpTransport(options: SmtpTransportOptions): MailTransport {
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new NotifyConfigError('smtpTransport: url is not a URL (smtp://user:pass@host:587).')
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new NotifyConfigError(
      `smtpTransport: the URL scheme must be smtp: or smtps:, not ${url.protocol}`,
    )
  }
  // nodemailer reads every key of the query as an option, over those given here: TLS checks
  // (`tls.rejectUnauthorized=false` sent the password to any certificate), the timeouts that
  // bound a send, the host itself (`service=`). The scheme says TLS; the rest goes in options.
  const keys = [...new Set(url.searchParams.keys())]
  if (keys.length > 0) {
    // Named only when they look like option names: the query is config, and may hold a secret.
    const named = keys.filter((key) => /^[A-Za-z][\w.]{0,39}$/.test(key))
    throw new NotifyConfigError(
      `smtpTransport: the URL may not carry a query${named.length > 0 ? ` (${named.join(', ')})` : ''}: nodemailer would read it as options over smtpTransport's own. Use smtps: for implicit TLS, smtp: for STARTTLS, and smtpTransport's options (tls, timeoutMs, maxConnections) for the rest.`,
    )
  }
  // Credentials over smtp: go only through STARTTLS, else a server (or a man in the middle)
  // that offers none would receive the password in clear.
  const requireTLS =
    url.protocol === 'smtp:' && (url.username !== '' || url.password !== '') && !isLoopbackUrl(url)
  const timeout = delayOption('smtpTransport: timeoutMs', options.timeoutMs, 30_000)
  // The forms the password travels in (the URL, AUTH PLAIN and LOGIN), kept out of reasons: a
  // server's reply may quote what it refused.
  const user = safeDecode(url.username)
  const password = safeDecode(url.password)
  const secrets = [
    password,
    url.password,
    Buffer.from(password).toString('base64'),
    Buffer.from(`\0${user}\0${password}`).toString('base64'),
  ]
  const hidden = (result: ChannelResult): ChannelResult =>
    result.status === 'accepted'
      ? result
      : { ...result, reason: withoutSecrets(result.reason, secrets) }
  let transport: PooledTransport | undefined
  let opening: Promise<PooledTransport> | undefined

  const open = (): Promise<PooledTransport> => {
    opening ??= (async () => {
      let nodemailer: { createTransport(options: Record<string, unknown>): PooledTransport }
      try {
        const loaded = (await import('nodemailer')) as unknown as {
          default?: typeof nodemailer
          createTransport?: typeof nodemailer.createTransport
        }
        nodemailer = loaded.createTransport
          ? (loaded as typeof nodemailer)
          : (loaded.default as typeof nodemailer)
      } catch (error) {
        throw new NotifyUnavailableError(
          'smtpTransport needs the nodemailer package: npm i nodemailer',
          {
            cause: error,
          },
        )
      }
      const target = await pinnedLocalhost(url)
      const tls = { ...target.tls, ...options.tls }
      transport = nodemailer.createTransport({
        url: target.url,
        pool: true,
        maxConnections: options.maxConnections ?? 5,
        maxMessages: options.maxMessages ?? 100,
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        disableFileAccess: true,
        disableUrlAccess: true,
        requireTLS,
        ...(Object.keys(tls).length === 0 ? {} : { tls }),
      })
      return transport
    })()
    return opening
  }

  return {
    // A pooled send on a new connection waits for the connection, the greeting, then the
    // replies to the message's commands, each for at most `timeout`: three of them bound one
    // send but on a server answering each command slowly; past that, the delivery's mark still
    // holds it for as long again, and a send later still is counted as a possible duplicate.
    sendTimeoutMs: Math.min(3 * timeout, MAX_TIMER_MS),
    async open() {
      await open()
    },
    async send(mail: ComposedMail): Promise<ChannelResult> {
      const pool = await open()
      try {
        const info = await pool.sendMail({
          messageId: mail.messageId,
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          replyTo: mail.replyTo,
          cc: mail.cc,
          bcc: mail.bcc,
          headers: mail.headers,
          attachments: mail.attachments?.map((attachment) => ({
            filename: attachment.filename,
            contentType: attachment.contentType,
            ...(typeof attachment.content === 'string'
              ? { content: attachment.content }
              : { content: attachment.content.base64, encoding: 'base64' }),
          })),
        })
        return hidden(
          recipientRefusal(info, mail.to) ?? {
            status: 'accepted',
            providerMessageId: info.messageId ?? mail.messageId,
          },
        )
      } catch (error) {
        return hidden(classifySmtpError(error as NodemailerError))
      }
    },
    async close() {
      transport?.close()
    },
  }
}

// Failures that only connecting or a name lookup can have: nothing was handed over.
const REFUSED_CONNECTION = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])
// Failures a socket has while connecting, or later on an established connection (a route lost
// mid-DATA): the message was certainly not handed over only when the socket was connecting.
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH'])
const BEFORE_SENDING = new Set([
  'EDNS',
  'ETLS',
  'EAUTH',
  'ENOAUTH',
  'EPROXY',
  'EREQUIRETLS',
  'ECONFIG',
])
const BAD_MESSAGE = new Set([
  'EENVELOPE',
  'EMESSAGE',
  'EMAXRECIPIENTS',
  'EFILEACCESS',
  'EURLACCESS',
  'ESTREAM',
])
const EARLY_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT'])
// A server certificate the client refuses (OpenSSL's verification codes, Node's name check):
// the TLS handshake fails, and it comes before any command (at connect for smtps:, before AUTH
// and MAIL for STARTTLS), so nothing was handed over. nodemailer reports it as a socket error
// (ESOCKET, the code in `originalCode`), as it does a connection lost mid-DATA.
const CERTIFICATE_REFUSED = new Set([
  'CERT_CHAIN_TOO_LONG',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CRL_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
])

/** Maps a nodemailer error to a channel result (see {@link smtpTransport}). */
export function classifySmtpError(error: NodemailerError): ChannelResult {
  const reason = `${error.code ?? 'ERROR'}${error.responseCode ? ` ${error.responseCode}` : ''}: ${error.message}`
  if (error.code === 'EAUTH' || error.code === 'ENOAUTH') return { status: 'not-accepted', reason }
  // A refused or failed STARTTLS (a 5xx reply included) says nothing about the message.
  if (error.code === 'ETLS') {
    return { status: 'not-accepted', reason }
  }
  if (error.responseCode !== undefined) {
    return error.permanent === true ||
      (error.permanent === undefined && error.responseCode >= 500 && error.responseCode !== 503)
      ? { status: 'permanent', reason }
      : { status: 'not-accepted', reason }
  }
  // The pool's own ECONNECTION carries no command: a connection closed before the message was
  // handed to one that sent any of it (before its greeting, say: a server refusing service), or
  // the pool closed. An error of a connection names its command.
  const poolsOwn = error.code === 'ECONNECTION' && error.command === undefined
  if (
    poolsOwn ||
    BEFORE_SENDING.has(error.code ?? '') ||
    REFUSED_CONNECTION.has(error.originalCode ?? error.code ?? '') ||
    (UNREACHABLE.has(error.originalCode ?? error.code ?? '') && error.syscall === 'connect') ||
    CERTIFICATE_REFUSED.has(error.originalCode ?? error.code ?? '') ||
    EARLY_TIMEOUTS.has(error.timeoutType ?? '')
  ) {
    return { status: 'not-accepted', reason }
  }
  if (BAD_MESSAGE.has(error.code ?? '')) return { status: 'permanent', reason }
  return { status: 'transient', reason }
}

/**
 * A refusal of the delivery's own recipient in a mail the server took for others (its cc or
 * bcc): nodemailer sends to the recipients the server accepts and reports the mail sent. The
 * recipient got nothing: a 5xx is `permanent`; a 4xx (greylisting, a full mailbox)
 * `not-accepted` (the server said, for the recipient: not now). Either names those the server
 * took it for (`sentTo`): the ledger keeps them, and no later send (a fallback's next provider,
 * a retry, a replay) goes to them again. A refused cc or bcc alone leaves the delivery sent: it
 * is the recipient's.
 */
function recipientRefusal(info: SentInfo, to: string): ChannelResult | undefined {
  const address = envelopeAddress(to)
  const refusal = info.rejectedErrors?.find(
    (error) => typeof error.recipient === 'string' && envelopeAddress(error.recipient) === address,
  )
  if (refusal === undefined) return undefined
  const reason = `${refusal.code ?? 'EENVELOPE'} ${refusal.responseCode ?? ''}: ${refusal.message}; the server took the mail for its other recipients (cc, bcc)`
  const sentTo = (info.accepted ?? []).flatMap((taken) => {
    const to = typeof taken === 'string' ? taken : taken.address
    return to === undefined ? [] : [to]
  })
  return refusal.responseCode !== undefined && refusal.responseCode >= 500
    ? { status: 'permanent', reason, sentTo }
    : { status: 'not-accepted', reason, sentTo }
}
