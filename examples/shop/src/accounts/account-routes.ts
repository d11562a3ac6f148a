import { createHash } from 'node:crypto'
import { NotFoundError, requestContext, safeText, UnauthorizedError } from '@mortar/core'
import { type Session, type SessionRecord, SESSIONS } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { CartSessionData } from '../cart/index.js'
import { type Account, ACCOUNTS } from './accounts.js'
import { logInWithPassword, logOut, signUpWithPassword } from './sign-in.js'
import { parseInput } from '../validation/index.js'

/** What the account routes need. */
export interface AccountRoutesOptions {
  /** The request's session. */
  readonly session: () => Session<CartSessionData>
}

const logoutEverywhereBody = z.object({ keepCurrent: z.boolean().default(false) }).default({
  keepCurrent: false,
})
const deviceParams = z.object({ device: safeText({ max: 64 }) })

// Devices are named by a digest of their session id: enough to revoke one, never the id itself.
function deviceId(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url').slice(0, 22)
}

/** One logged-in device as `GET /auth/sessions` shows it. */
export interface Device {
  readonly device: string
  readonly current: boolean
  readonly createdAt: string
  readonly lastSeenAt: string
  readonly ip: string | null
  readonly userAgent: string | null
}

function toDevice(record: SessionRecord, currentSessionId: string): Device {
  return {
    device: deviceId(record.id),
    current: record.id === currentSessionId,
    createdAt: record.createdAt.toISOString(),
    lastSeenAt: record.lastSeenAt.toISOString(),
    ip: record.ip ?? null,
    userAgent: record.userAgent ?? null,
  }
}

/**
 * Accounts over HTTP (JSON). Sign-up and login answer `{ user, csrfToken }`: send `csrfToken` as
 * `x-csrf-token` with later writes, unless the client sends an `Origin` header (browsers do).
 *
 * - `POST /auth/signup` `{ email, password }`: creates the account and logs it in (201); 409
 *   `E_ACCOUNT_EXISTS` when the email is taken.
 * - `POST /auth/login` `{ email, password }`: 401 `E_UNAUTHORIZED` on a wrong email or password;
 *   429 `E_LOGIN_THROTTLED` after too many failures for the account or the address.
 * - `POST /auth/logout`: ends this session.
 * - `POST /auth/logout-everywhere` `{ keepCurrent = false }`: revokes every session of the user,
 *   this one included unless `keepCurrent`; answers `{ revoked }`.
 * - `GET /auth/sessions`: the user's logged-in devices, newest first.
 * - `DELETE /auth/sessions/:device`: logs one of the user's devices out.
 * - `GET /me`: the logged-in user.
 */
export async function accountRoutes(
  server: FastifyInstance,
  options: AccountRoutesOptions,
): Promise<void> {
  const { session } = options
  const accounts = () => requestContext().resolve(ACCOUNTS)
  const sessions = () => requestContext().resolve(SESSIONS)
  const answer = (user: Account | null) => ({ user, csrfToken: session().csrfToken() })

  // The session's account; a session whose account is gone counts as logged out.
  async function currentAccount(): Promise<Account> {
    const userId = session().userId
    const account = userId === undefined ? undefined : await accounts().find(userId)
    if (account === undefined) throw new UnauthorizedError('Log in first: POST /auth/login.')
    return account
  }

  server.post('/auth/signup', async (request, reply) => {
    const account = await signUpWithPassword(session(), request.body)
    reply.code(201)
    return answer(account)
  })

  server.post('/auth/login', async (request) =>
    answer(await logInWithPassword(session(), request.body)),
  )

  server.post('/auth/logout', async () => {
    await currentAccount()
    await logOut(session())
    return answer(null)
  })

  server.post('/auth/logout-everywhere', async (request) => {
    const account = await currentAccount()
    const { keepCurrent } = parseInput(logoutEverywhereBody, request.body ?? undefined)
    const current = session()
    const revoked = await sessions().revokeAll(
      account.id,
      keepCurrent ? { except: current.id } : undefined,
    )
    // The registry already forgot this session; logout also clears its cookie now.
    if (!keepCurrent) await logOut(current)
    return { revoked, ...answer(keepCurrent ? account : null) }
  })

  server.get('/auth/sessions', async () => {
    const account = await currentAccount()
    const records = await sessions().listSessions(account.id)
    return { devices: records.map((record) => toDevice(record, session().id)) }
  })

  server.delete('/auth/sessions/:device', async (request) => {
    const account = await currentAccount()
    const { device } = parseInput(deviceParams, request.params)
    const records = await sessions().listSessions(account.id)
    const target = records.find((record) => deviceId(record.id) === device)
    if (target === undefined) throw new NotFoundError('You have no logged-in device with this id.')
    await sessions().revoke(target)
    if (target.id === session().id) await logOut(session())
    return { revoked: 1 }
  })

  server.get('/me', async () => answer(await currentAccount()))
}
