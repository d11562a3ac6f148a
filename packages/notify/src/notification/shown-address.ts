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

/**
 * `text` (a channel's reason, an error a channel threw) with a secret-bearing `address`, and
 * each part of it that {@link shownAddress} hides (userinfo, path, query), replaced by what is
 * shown of it: whatever a channel writes, such a URL never reaches the ledger's `last_error`,
 * `notification.failed` or the jobs' errors.
 */
export function withoutAddress(text: string, address: string): string {
  const shown = shownAddress(address)
  if (shown === address || text === '') return text
  let result = text.replaceAll(address, shown)
  let url: URL | undefined
  try {
    url = new URL(address)
  } catch {
    return result
  }
  const hidden = [
    url.href,
    `${url.pathname}${url.search}${url.hash}`,
    `${url.pathname}${url.search}`,
    `${url.search}${url.hash}`,
    url.pathname,
    url.search,
    url.hash,
    url.username,
    url.password,
    safeDecode(url.username),
    safeDecode(url.password),
  ]
    // Too short to be a secret, and would garble the text ('/', '?a').
    .filter((part) => part.length >= 4 && part !== '/')
    .sort((a, b) => b.length - a.length)
  for (const part of hidden) result = result.replaceAll(part, '…')
  return result
}

/** `decodeURIComponent(text)`, or `text` as it is when it is not valid percent-encoding. */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
