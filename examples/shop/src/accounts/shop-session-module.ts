import { isDevelopment, requestContext, resolveDatabase, type Secret } from '@mortar/core'
import { type SessionModule, sessionModule } from '@mortar/session'
import { CART_TTL_SECONDS, cartSessionSchema } from '../cart/index.js'
import type { AccountsDb } from './accounts-db.js'

/** Options of {@link shopSessionModule}. */
export interface ShopSessionModuleOptions {
  /** Seals the cookie: the key ring of `SESSION_PASSWORD` (the highest id seals, every id opens). */
  readonly password: Secret<Readonly<Record<number, string>>>
  /** Where logged-in sessions are recorded: the app's `databaseSessionRegistry()` or `redisSessionRegistry()`. */
  readonly registry: 'database' | 'redis'
}

/**
 * The shop's sessions: a sealed cookie holding the id of the visitor's cart, logged-in sessions
 * recorded in a registry (so they can be listed and revoked), the session's user as the
 * request's principal.
 * The role is read from the database on each request, so a demoted admin is demoted at once and
 * a deleted account is logged out.
 */
export function shopSessionModule(
  options: ShopSessionModuleOptions,
): SessionModule<typeof cartSessionSchema> {
  return sessionModule({
    // Its own name: another app on this host (rides and game on other ports) must not read it.
    // Outside development, __Host-: browsers then keep it only as set by this very host over
    // HTTPS, so a sibling subdomain or a plain-HTTP response cannot plant one (a cookie of the
    // attacker's own account, the victim then logged in as them) or shadow it.
    cookieName: sessionCookieName(),
    password: options.password.reveal(),
    schema: cartSessionSchema,
    registry: options.registry,
    // Re-issue the cookie on use at most every 5 minutes, so an active visitor stays logged in.
    rolling: 300,
    // As long as the cart it names lives after a change (the store deletes carts after that).
    ttl: CART_TTL_SECONDS,
    resolvePrincipal: async (_data, { userId }) => {
      if (userId === undefined) return undefined
      const user = await resolveDatabase<AccountsDb>(requestContext())
        .selectFrom('users')
        .select(['id', 'role'])
        .where('id', '=', userId)
        .executeTakeFirst()
      return user === undefined ? undefined : { id: user.id, roles: [user.role] }
    },
  })
}

/** The session cookie's name: `shop.session`, `__Host-shop.session` outside development. */
function sessionCookieName(): string {
  return isDevelopment() ? 'shop.session' : '__Host-shop.session'
}
