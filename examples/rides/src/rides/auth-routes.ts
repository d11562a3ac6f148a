import { LOGIN_THROTTLE, PASSWORD_HASHER } from '@mortar/auth'
import {
  type App,
  requestContext,
  safeText,
  UnauthorizedError,
  ValidationError,
} from '@mortar/core'
import { session } from '@mortar/session'
import { Hono } from 'hono'
import { z } from 'zod'
import type { RidesConfig } from '../config.js'
import { RIDES_DB, type UsersTable } from './rides-db.js'

const loginBody = z.object({
  email: safeText({ max: 320 }).trim().toLowerCase().pipe(z.email()),
  password: safeText({ min: 1, max: 1024 }),
})

/** Parses a JSON body with `schema`, or throws a 422 naming the bad fields (never their values). */
export async function parseBody<S extends z.ZodType>(
  request: { json(): Promise<unknown> },
  schema: S,
): Promise<z.output<S>> {
  const parsed = schema.safeParse(await request.json())
  if (!parsed.success) throw ValidationError.fromZod(parsed.error)
  return parsed.data
}

function publicUser(user: Pick<UsersTable, 'id' | 'name' | 'email' | 'role'>) {
  return { id: user.id, name: user.name, email: user.email, role: user.role }
}

/**
 * Login, logout and who-am-I. A login is throttled per account and per address before the
 * password is checked, costs one full scrypt verification whether or not the email has an
 * account, and upgrades the stored hash when its parameters are outdated.
 */
export function authRoutes(app: App<RidesConfig>): Hono {
  const routes = new Hono()
  const db = app.resolve(RIDES_DB)
  const hasher = app.resolve(PASSWORD_HASHER)
  const throttle = app.resolve(LOGIN_THROTTLE)

  routes.post('/login', async (c) => {
    const { email, password } = await parseBody(c.req, loginBody)
    // Counted before the hash; a 429, and no hash at all, while the account or address is locked.
    const user = await throttle.attempt({ account: email, ip: requestContext().ip }, async () => {
      const found = await db
        .selectFrom('users')
        .select(['id', 'name', 'email', 'role', 'password_hash'])
        .where('email', '=', email)
        .executeTakeFirst()
      const valid = await hasher.verifyOrDummy(found?.password_hash, password)
      return valid ? found : undefined
    })
    // One message for an unknown email and a wrong password: no account enumeration.
    if (user === undefined) throw new UnauthorizedError('Wrong email or password.')
    if (hasher.needsRehash(user.password_hash)) {
      const upgraded = await hasher.hash(password)
      await db
        .updateTable('users')
        .set({ password_hash: upgraded })
        .where('id', '=', user.id)
        .execute()
    }
    await session().login(user.id)
    return c.json({ user: publicUser(user), csrfToken: session().csrfToken() })
  })

  routes.post('/logout', async (c) => {
    await session().logout()
    return c.json({ user: null, csrfToken: session().csrfToken() })
  })

  routes.get('/me', async (c) => {
    const userId = session().userId
    const user =
      userId === undefined
        ? undefined
        : await db
            .selectFrom('users')
            .select(['id', 'name', 'email', 'role'])
            .where('id', '=', userId)
            .executeTakeFirst()
    return c.json({
      user: user === undefined ? null : publicUser(user),
      csrfToken: session().csrfToken(),
    })
  })

  return routes
}
