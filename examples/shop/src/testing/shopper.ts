import { randomUUID } from 'node:crypto'
import { expect } from 'vitest'
import { CookieJar } from './cookie-jar.js'

/** A password every test shopper uses. */
export const SHOPPER_PASSWORD = 'correct horse battery'

/** A signed-up shopper over real HTTP: a cookie jar, its account and one saved card. */
export interface Shopper {
  readonly jar: CookieJar
  readonly userId: string
  readonly email: string
  readonly paymentMethodId: string
}

/** Signs a new shopper up on the shop at `base` and saves a card for them. */
export async function signUpShopper(base: string, name = 'shopper'): Promise<Shopper> {
  const jar = new CookieJar({ base, userAgent: name })
  return signUp(jar, `${name}-${randomUUID()}@example.com`)
}

/**
 * Signs up, with a saved card, the visitor whose cookies `jar` holds (so a cart filled before
 * signing up stays theirs).
 */
export async function signUp(jar: CookieJar, email: string): Promise<Shopper> {
  const signup = await jar.request('POST', '/auth/signup', { email, password: SHOPPER_PASSWORD })
  expect(signup.status).toBe(201)
  const card = await jar.request('POST', '/payment-methods', {
    token: `tok_visa_${randomUUID().slice(0, 8)}`,
    last4: '4242',
    brand: 'visa',
  })
  expect(card.status).toBe(201)
  return {
    jar,
    userId: (signup.json.user as { id: string }).id,
    email,
    paymentMethodId: card.json.id as string,
  }
}

/** Logs into the shop at `base` as an existing account (the seeded admin, say). */
export async function logIn(base: string, email: string, password: string): Promise<CookieJar> {
  const jar = new CookieJar({ base, userAgent: email })
  const login = await jar.request('POST', '/auth/login', { email, password })
  expect(login.status).toBe(200)
  return jar
}
