import { requestContext, UnauthorizedError } from '@mortar/core'
import type { Role } from './rides-db.js'
import type { RidesPrincipal } from './rides-policy.js'

declare module '@mortar/core' {
  interface Principal {
    id: string
    roles: readonly string[]
  }
}

/** The logged-in caller, or a 401 problem telling them to log in. */
export function currentPrincipal(): RidesPrincipal {
  const principal = requestContext().get('principal')
  if (principal?.id === undefined) throw new UnauthorizedError('Log in first: POST /login.')
  return { id: principal.id, roles: principal.roles as readonly Role[] }
}
