import { randomUUID } from 'node:crypto'
import { principalIdentity, type RequestIdentity } from '@mortar/analytics'
import { isDevelopment, type RequestContext } from '@mortar/core'

declare module '@mortar/core' {
  interface ContextSlots {
    'shop.visitor': string
  }
}

const COOKIE = 'shop.visitor'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ONE_YEAR_S = 365 * 24 * 3_600

/**
 * The shop's analytics identity: the signed-in user, and the visitor's own first-party cookie
 * as the anonymous id, set on the first tracked request. Analytics never links its cookieless
 * id (shared by everyone behind one address with one browser) to a user, so this cookie is what
 * lets sign-in tie the searches and views made before it to the account. Only asked for when
 * the visitor consented (the module's `consent`, when an app sets one).
 */
export function shopIdentity(context: RequestContext): RequestIdentity {
  return { ...principalIdentity(context), anonymousId: visitorId(context) }
}

function visitorId(context: RequestContext): string | undefined {
  const known = context.get(COOKIE)
  if (known !== undefined) return known
  const http = context.http
  if (http === undefined) return undefined
  const sent = http
    .header('cookie')
    ?.split(';')
    .map((pair) => pair.trim())
    .find((pair) => pair.startsWith(`${COOKIE}=`))
    ?.slice(COOKIE.length + 1)
  if (sent !== undefined && UUID.test(sent)) {
    context.set(COOKIE, sent)
    return sent
  }
  return newVisitor(context)
}

/**
 * Gives the browser a new visitor id, at logout: the old one is linked to the account, and the
 * next person on this browser would have been counted (and forgotten) as its owner.
 */
export function forgetVisitor(context: RequestContext): void {
  newVisitor(context)
}

function newVisitor(context: RequestContext): string | undefined {
  const http = context.http
  if (http === undefined) return undefined
  const id = randomUUID()
  // Secure outside development, as the session cookie is: sent over plain HTTP, it would let
  // anyone on the path tie the browser's visits together.
  const secure = isDevelopment() ? '' : '; Secure'
  http.appendResponseHeader(
    'set-cookie',
    `${COOKIE}=${id}; Path=/; Max-Age=${ONE_YEAR_S}; HttpOnly; SameSite=Lax${secure}`,
  )
  context.set(COOKIE, id)
  return id
}
