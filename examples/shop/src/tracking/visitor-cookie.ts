import { randomUUID } from 'node:crypto'
import { principalIdentity, type RequestIdentity } from '@mortar/analytics'
import { isDevelopment, type RequestContext } from '@mortar/core'
import { sameSecret } from '../secrets/index.js'
import { VISITOR_TAGS } from './visitor-tags.js'

declare module '@mortar/core' {
  interface ContextSlots {
    'shop.visitor': string
  }
}

// The request slot of the visitor id; the cookie is cookieName()'s.
const COOKIE = 'shop.visitor'
// `<visitor id>` before sign-in; `<visitor id>.<owner tag>` once linked to an account.
const VALUE =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\.([A-Za-z0-9_-]{43}))?$/
const ONE_YEAR_S = 365 * 24 * 3_600
// The request's slot when it has no visitor id of its own (see newVisitor).
const NONE = ''

/**
 * The shop's analytics identity: the signed-in user, and the visitor's own first-party cookie
 * as the anonymous id, set on the first tracked request. Analytics never links its cookieless
 * id (shared by everyone behind one address with one browser) to a user, so this cookie is what
 * lets sign-in tie the searches and views made before it to the account. Only asked for when
 * the visitor consented (the module's `consent`, when an app sets one).
 *
 * The cookie is given only to a browser's own requests (see {@link mayMint}): a client that
 * keeps no cookies (a script, curl, a JSON API client) would otherwise be a new visitor on every
 * request. Such a client counts as analytics' cookieless visitor: one per address and user
 * agent a day, never linked to an account.
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
 * Gives the browser a new visitor id, at logout (a client that is no browser: none, and its
 * cookie is dropped): the old one is linked to the account, and the next person on this
 * browser would have been counted (and forgotten) as its owner.
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
  if (known !== undefined) return known === NONE ? undefined : known
  const http = context.http
  if (http === undefined) return undefined
  const sent = VALUE.exec(
    http
      .header('cookie')
      ?.split(';')
      .map((pair) => pair.trim())
      .find((pair) => pair.startsWith(`${cookieName()}=`))
      ?.slice(cookieName().length + 1) ?? '',
  )
  const [, id, tag] = sent ?? []
  if (
    id !== undefined &&
    (tag === undefined || (owner !== undefined && sameSecret(tag, ownerTag(context, owner))))
  ) {
    context.set(COOKIE, id)
    return id
  }
  return newVisitor(context)
}

// A new id in the cookie, for a browser's own request; otherwise a cookie it sent is dropped
// (it may name an account that is no longer the one signed in) and the request has no id of
// its own: analytics counts it as its cookieless visitor.
function newVisitor(context: RequestContext): string | undefined {
  const http = context.http
  if (http === undefined) return undefined
  if (!mayMint(http.header('sec-fetch-mode'), http.header('sec-fetch-site'))) {
    if (http.header('cookie')?.includes(`${cookieName()}=`))
      http.appendResponseHeader('set-cookie', cookie('', 0))
    context.set(COOKIE, NONE)
    return undefined
  }
  const id = randomUUID()
  setCookie(context, id, undefined)
  return id
}

/**
 * Whether a request may be given a visitor cookie: a browser's navigation (`Sec-Fetch-Mode:
 * navigate`, a page or a form, from any site) or a request of the shop's own pages
 * (`Sec-Fetch-Site: same-origin`: their script's beacons). Browsers set both headers and no page
 * can forge them; a client that sends neither keeps no cookie, so a cookie minted for it would
 * be a new visitor per request.
 */
function mayMint(mode: string | undefined, site: string | undefined): boolean {
  return mode === 'navigate' || site === 'same-origin'
}

function setCookie(context: RequestContext, id: string, owner: string | undefined): void {
  const http = context.http
  if (http === undefined) return
  const value = owner === undefined ? id : `${id}.${ownerTag(context, owner)}`
  http.appendResponseHeader('set-cookie', cookie(value, ONE_YEAR_S))
  context.set(COOKIE, id)
}

function cookie(value: string, maxAge: number): string {
  // Secure outside development, as the session cookie is: sent over plain HTTP, it would let
  // anyone on the path tie the browser's visits together.
  const secure = isDevelopment() ? '' : '; Secure'
  return `${cookieName()}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`
}

// __Host- outside development, as the session cookie: no other host (a sibling subdomain) and
// no plain-HTTP response can plant an id of the attacker's in the browser, which sign-in would
// link to the victim's account, the attacker's own visits then counted (and forgotten) as theirs.
function cookieName(): string {
  return isDevelopment() ? 'shop.visitor' : '__Host-shop.visitor'
}

// Which account a linked cookie names: keyed by the shop's vault, so no one else can tell it or
// make it (see VisitorTags).
function ownerTag(context: RequestContext, userId: string): string {
  return context.resolve(VISITOR_TAGS).tag(userId)
}
