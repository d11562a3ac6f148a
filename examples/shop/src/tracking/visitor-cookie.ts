import { createHash, randomUUID } from 'node:crypto'
import { principalIdentity, type RequestIdentity } from '@mortar/analytics'
import { isDevelopment, type RequestContext } from '@mortar/core'

declare module '@mortar/core' {
  interface ContextSlots {
    'shop.visitor': string
  }
}

const COOKIE = 'shop.visitor'
// `<visitor id>` before sign-in; `<visitor id>.<owner tag>` once linked to an account.
const VALUE =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\.([A-Za-z0-9_-]{22}))?$/
const ONE_YEAR_S = 365 * 24 * 3_600

/**
 * The shop's analytics identity: the signed-in user, and the visitor's own first-party cookie
 * as the anonymous id, set on the first tracked request. Analytics never links its cookieless
 * id (shared by everyone behind one address with one browser) to a user, so this cookie is what
 * lets sign-in tie the searches and views made before it to the account. Only asked for when
 * the visitor consented (the module's `consent`, when an app sets one).
 */
export function shopIdentity(context: RequestContext): RequestIdentity {
  const identity = principalIdentity(context)
  return { ...identity, anonymousId: visitorId(context, identity?.userId) }
}

/**
 * Links the browser's visitor id to `userId`, at sign-up and login, before analytics'
 * `identify` reads it: the cookie then names its account, and is used only for it.
 */
export function linkVisitor(context: RequestContext, userId: string): void {
  const id = visitorId(context, userId)
  if (id !== undefined) setCookie(context, id, userId)
}

/**
 * Gives the browser a new visitor id, at logout: the old one is linked to the account, and the
 * next person on this browser would have been counted (and forgotten) as its owner.
 */
export function forgetVisitor(context: RequestContext): void {
  newVisitor(context)
}

// The cookie's id when it may stand for `owner` (undefined: nobody signed in): unlinked, or
// linked to that very account. One linked to another account, or to one whose session ended
// without a logout (expired, revoked everywhere), gets a new id, so the next person on the
// browser is never counted (and forgotten) as the last one.
function visitorId(context: RequestContext, owner: string | undefined): string | undefined {
  const known = context.get(COOKIE)
  if (known !== undefined) return known
  const http = context.http
  if (http === undefined) return undefined
  const sent = VALUE.exec(
    http
      .header('cookie')
      ?.split(';')
      .map((pair) => pair.trim())
      .find((pair) => pair.startsWith(`${COOKIE}=`))
      ?.slice(COOKIE.length + 1) ?? '',
  )
  const [, id, tag] = sent ?? []
  if (id !== undefined && (tag === undefined || (owner !== undefined && tag === ownerTag(owner)))) {
    context.set(COOKIE, id)
    return id
  }
  return newVisitor(context)
}

function newVisitor(context: RequestContext): string | undefined {
  const id = randomUUID()
  if (!setCookie(context, id, undefined)) return undefined
  return id
}

function setCookie(context: RequestContext, id: string, owner: string | undefined): boolean {
  const http = context.http
  if (http === undefined) return false
  // Secure outside development, as the session cookie is: sent over plain HTTP, it would let
  // anyone on the path tie the browser's visits together.
  const secure = isDevelopment() ? '' : '; Secure'
  const value = owner === undefined ? id : `${id}.${ownerTag(owner)}`
  http.appendResponseHeader(
    'set-cookie',
    `${COOKIE}=${value}; Path=/; Max-Age=${ONE_YEAR_S}; HttpOnly; SameSite=Lax${secure}`,
  )
  context.set(COOKIE, id)
  return true
}

// Which account a linked cookie names, without putting the account id in it.
function ownerTag(userId: string): string {
  return createHash('sha256').update(`shop.visitor:${userId}`).digest('base64url').slice(0, 22)
}
