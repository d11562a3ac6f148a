import { createHash } from 'node:crypto'

// An address with a scheme and an authority: a webhook or chat URL, whose path or query is
// often the credential itself (a Slack incoming webhook is a bearer URL).
const URL_LIKE = /^[a-z][a-z\d+.-]*:\/\//i

/**
 * An address as the ledger shows it (deliveries, `mortar notify status`, on-demand ids): a URL
 * keeps only its scheme and host, since its path, query and userinfo may be the secret that
 * posts to it; mail addresses, phone numbers and recipient ids are shown as they are.
 */
export function shownAddress(address: string): string {
  if (!URL_LIKE.test(address)) return address
  let url: URL
  try {
    url = new URL(address)
  } catch {
    return `${address.slice(0, address.indexOf(':'))}://…`
  }
  return `${url.protocol}//${url.host}/…`
}

/**
 * An address as an id may hold it: as shown, plus a digest of the whole address when the shown
 * form hides part of it, so two URLs on one host stay two ids without either being readable.
 */
export function addressKey(address: string): string {
  const shown = shownAddress(address)
  if (shown === address) return address
  return `${shown}#${createHash('sha256').update(address).digest('base64url').slice(0, 22)}`
}
