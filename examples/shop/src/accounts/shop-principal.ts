import { requestContext, UnauthorizedError } from '@mortar/core'
import type { Role } from './accounts-db.js'

declare module '@mortar/core' {
  interface Principal {
    id: string
    roles: readonly Role[]
  }
}

/** Who is calling, as the shop's policy sees them. */
export interface ShopPrincipal {
  readonly id: string
  readonly roles: readonly Role[]
}

/** The request's logged-in user, or undefined for a visitor. */
export function currentPrincipal(): ShopPrincipal | undefined {
  return requestContext().get('principal')
}

/** The request's logged-in user, or a 401 problem telling the caller to log in. */
export function requirePrincipal(): ShopPrincipal {
  const principal = currentPrincipal()
  if (principal === undefined) throw new UnauthorizedError('Log in first: POST /auth/login.')
  return principal
}
