// A real SMTP server in-process (the smtp-server package) whose mail is parsed back with mailparser.
import type { AddressInfo } from 'node:net'
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface SmtpTestServer {
  readonly url: string
  readonly port: number
  readonly mails: ParsedMail[]
  /** The envelope's recipients (RCPT TO the server took) of each mail, as `mails` holds them. */
  readonly envelopes: string[][]
  /** Connections opened so far (a pooled transport reuses them). */
  readonly connections: () => number
  /** Connections open now. */
  readonly openConnections: () => number
  /** AUTH attempts so far (a password that reached the server). */
  readonly authAttempts: () => number
  /**
   * Replies to RCPT TO for an address: an SMTP code and text (550 refuses for good, 451 for
   * now); `once`: given to the next RCPT TO of it only.
   */
  readonly rcptReplies: Map<string, { code: number; text: string; once?: boolean }>
  /** When set, DATA is read but never answered (the client times out after sending). */
  hangOnData: boolean
  close(): Promise<void>
}

export async function startSmtpTestServer(
  options: {
    readonly auth?: { user: string; pass: string }
    readonly port?: number
    /** Offers STARTTLS, with smtp-server's own self-signed certificate (which no client trusts). */
    readonly startTls?: boolean
    /** TLS from the start (`smtps:`), with that certificate too. */
    readonly implicitTls?: boolean
    /** Quotes the password it refuses in its reply, as a careless server may. */
    readonly echoPassword?: boolean
  } = {},
): Promise<SmtpTestServer> {
  const mails: ParsedMail[] = []
  const envelopes: string[][] = []
  const rcptReplies = new Map<string, { code: number; text: string; once?: boolean }>()
  let connections = 0
  let authAttempts = 0
  const state = { hangOnData: false }
  const server = new SMTPServer({
    secure: options.implicitTls === true,
    authOptional: options.auth === undefined,
    disabledCommands: [
      ...(options.startTls === true ? [] : ['STARTTLS']),
      ...(options.auth === undefined ? ['AUTH'] : []),
    ],
    allowInsecureAuth: true,
    logger: false,
    onConnect(_session, callback) {
      connections += 1
      callback()
    },
    onAuth(auth, _session, callback) {
      authAttempts += 1
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) {
        return callback(null, { user: auth.username })
      }
      const quoted = options.echoPassword === true ? ` (${auth.password})` : ''
      callback(Object.assign(new Error(`Invalid credentials${quoted}`), { responseCode: 535 }))
    },
    onRcptTo(address, _session, callback) {
      const reply = rcptReplies.get(address.address)
      if (reply?.once === true) rcptReplies.delete(address.address)
      if (reply) return callback(Object.assign(new Error(reply.text), { responseCode: reply.code }))
      callback()
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          if (state.hangOnData) return
          mails.push(mail)
          envelopes.push(session.envelope.rcptTo.map((rcpt) => rcpt.address))
          callback()
        },
        (error: Error) => callback(error),
      )
    },
  })
  // A client that hangs up mid-handshake (refusing the certificate, which tests do on purpose)
  // is an 'error' of the server's: unheard, Node throws it as an uncaught exception.
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  const credentials = options.auth ? `${options.auth.user}:${options.auth.pass}@` : ''
  return {
    url: `${options.implicitTls === true ? 'smtps' : 'smtp'}://${credentials}127.0.0.1:${port}`,
    port,
    mails,
    envelopes,
    connections: () => connections,
    openConnections: () => server.connections.size,
    authAttempts: () => authAttempts,
    rcptReplies,
    get hangOnData() {
      return state.hangOnData
    },
    set hangOnData(value: boolean) {
      state.hangOnData = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of server.connections) connection.close()
        server.close(() => resolve())
      }),
  }
}
