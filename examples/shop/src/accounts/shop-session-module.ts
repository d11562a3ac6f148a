import type { Secret } from '@mortar/core'
import { type SessionModule, sessionModule } from '@mortar/session'
import { cartSessionSchema } from '../cart/index.js'

/** Options of {@link shopSessionModule}. */
export interface ShopSessionModuleOptions {
  /** Seals the cookie: 32+ characters, from `SESSION_PASSWORD`. */
  readonly password: Secret<string>
}

/**
 * The shop's sessions: the cart in a sealed cookie, logged-in sessions recorded in the database
 * registry (so they can be listed and revoked), the session's user as the request's principal.
 */
export function shopSessionModule(
  options: ShopSessionModuleOptions,
): SessionModule<typeof cartSessionSchema> {
  return sessionModule({
    // Its own name: another app on this host (rides and game on other ports) must not read it.
    cookieName: 'shop.session',
    password: options.password,
    schema: cartSessionSchema,
    registry: 'database',
    // Re-issue the cookie on use at most every 5 minutes, so an active visitor stays logged in.
    rolling: 300,
    resolvePrincipal: (_data, { userId }) => (userId === undefined ? undefined : { id: userId }),
  })
}
