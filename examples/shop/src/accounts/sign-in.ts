import { LOGIN_THROTTLE } from '@mortar/auth'
import { requestContext, safeText, UnauthorizedError } from '@mortar/core'
import type { Session } from '@mortar/session'
import { z } from 'zod'
import { type Account, AccountExistsError, ACCOUNTS } from './accounts.js'
import { CARTS, type CartSessionData } from '../cart/index.js'
import { forgetVisitor, identifyVisitor } from '../tracking/index.js'
import { parseInput } from '../validation/index.js'

/** What sign-up takes, from JSON or a form. */
export const signUpSchema = z.object({
  // Trimmed and lower-cased before the check, as Accounts stores it.
  email: safeText({ max: 254 }).trim().toLowerCase().pipe(z.email()),
  // scrypt takes any length; the cap keeps one request from costing a long hash of megabytes.
  password: safeText({ min: 10, max: 200 }),
})

/** What login takes: any strings within bounds, so a malformed email is a plain wrong login. */
export const logInSchema = z.object({
  email: safeText({ max: 254 }),
  password: safeText({ max: 200 }),
})

/**
 * Creates an account from `input` (`{ email, password }`) and logs `session` in as it, through
 * the login throttle. 422 `E_VALIDATION` for a bad email or a short password, 409
 * `E_ACCOUNT_EXISTS`, 429 `E_LOGIN_THROTTLED` once the address has signed up (or failed to log
 * in) too often, or the email has met a taken one too often.
 */
export async function signUpWithPassword(
  session: Session<CartSessionData>,
  input: unknown,
): Promise<Account> {
  const credentials = parseInput(signUpSchema, input)
  const context = requestContext()
  // Every sign-up stays counted, for the address (with its failed logins: 50 in 15 minutes)
  // and for sign-ups with that email (LOGIN_MAX_FAILURES), under a key of their own so they
  // never lock the account's owner out of logging in. A successful one too: the throttle gives
  // a success its attempt back, so new emails were unlimited, each a full password hash and a
  // row. A taken email is a failure like the others: a sign-up tells whether an email has an
  // account (the 409), which login takes care never to tell.
  let account: Account | undefined
  await context
    .resolve(LOGIN_THROTTLE)
    .attempt({ account: `signup:${credentials.email}`, ip: context.ip }, async () => {
      try {
        account = await context.resolve(ACCOUNTS).signUp(credentials)
      } catch (error) {
        if (!(error instanceof AccountExistsError)) throw error
      }
      // Undefined: the attempt is not given back.
      return undefined
    })
  const created: Account | undefined = account
  if (created === undefined) throw new AccountExistsError()
  await requestContext()
    .resolve(CARTS)
    .keepThroughLogin(session, () => session.login(created.id))
  identifyVisitor(created.id)
  return created
}

/**
 * Logs `session` in as the account of `input` (`{ email, password }`), through the login
 * throttle: 401 `E_UNAUTHORIZED` for a wrong email or password alike, 429 `E_LOGIN_THROTTLED`
 * once the account or the address has failed too often. The session gets a new id and CSRF
 * token (against fixation) and its cart moves to a new id, lines kept, so a copy of the cookie
 * from before login no longer names it.
 */
export async function logInWithPassword(
  session: Session<CartSessionData>,
  input: unknown,
): Promise<Account> {
  const { email, password } = parseInput(logInSchema, input)
  const context = requestContext()
  const throttle = context.resolve(LOGIN_THROTTLE)
  // Counted before the hash, so parallel guesses cannot pass the limit; a locked-out account or
  // address is refused before its password costs a hash.
  const account = await throttle.attempt({ account: email, ip: context.ip }, () =>
    context.resolve(ACCOUNTS).authenticate(email, password),
  )
  if (account === undefined) throw new UnauthorizedError('Wrong email or password.')
  await requestContext()
    .resolve(CARTS)
    .keepThroughLogin(session, () => session.login(account.id))
  identifyVisitor(account.id)
  return account
}

/**
 * Logs `session` out (an anonymous session with a new id and empty data, its cart a new one)
 * and gives the browser a new analytics visitor id, the old one being linked to the account.
 */
export async function logOut(session: Session<CartSessionData>): Promise<void> {
  await session.logout()
  forgetVisitor(requestContext())
}
