import { ForbiddenError, type RequestContext, requestContext } from '@mortar/core'
import type { ShopPrincipal } from '../accounts/index.js'
import { requirePrincipal } from '../accounts/index.js'
import { SHOP_ACCESS } from '../access/index.js'

/** Whether the policy lets `principal` enter the admin pages (`enter` on `admin_pages`). */
export function mayEnterAdmin(
  context: RequestContext,
  principal: ShopPrincipal | undefined,
): boolean {
  return context.resolve(SHOP_ACCESS).can(principal, 'enter', 'admin_pages') === 'always'
}

/**
 * The admin pages' guard, in the shape that pages served by packages take (the analytics
 * dashboard, the dev mailbox): true only for a principal the policy lets in.
 */
export function adminGuard(context: RequestContext): boolean {
  return mayEnterAdmin(context, context.get('principal'))
}

/** The request's admin, or a 401 (visitor) or 403 (customer) problem. */
export function requireAdmin(): ShopPrincipal {
  const principal = requirePrincipal()
  if (!mayEnterAdmin(requestContext(), principal)) {
    throw new ForbiddenError('The admin pages are for admins.')
  }
  return principal
}
