import { hasLoneSurrogate } from '@mortar/core'

/**
 * What `toInbox()` returns: an item of the recipient's in-app inbox.
 *
 * @example
 * ```ts
 * import type { InboxMessage } from '@mortar/notify'
 *
 * const message: InboxMessage = { title: 'Order shipped', body: 'Order o-1 is on its way.', url: '/orders/o-1' }
 * ```
 */
export interface InboxMessage {
  readonly title: string
  readonly body?: string | undefined
  /**
   * Where the item leads when clicked: a path of the app (`/orders/o-1`) or an http(s) URL, at
   * most 2 048 characters; anything else (`javascript:`, `//host`) makes the delivery dead.
   */
  readonly url?: string | undefined
  /** Anything else the app's inbox view needs (JSON). */
  readonly data?: Readonly<Record<string, unknown>> | undefined
}

/**
 * Why an inbox message cannot be stored as given, if it cannot: no title, a title or body with
 * NUL (PostgreSQL refuses it: the write failed as transient and was retried to its last attempt)
 * or a lone surrogate (no UTF-8 form: stored as U+FFFD, not as given), or a link it may not have.
 */
export function inboxMessageProblem(message: InboxMessage): string | undefined {
  if (typeof message.title !== 'string' || message.title.trim() === '')
    return 'the inbox item has no title'
  for (const [field, text] of [
    ['title', message.title],
    ['body', message.body],
  ] as const) {
    if (text === undefined) continue
    if (typeof text !== 'string') return `the inbox item's ${field} is not a string`
    if (text.includes('\u0000')) return `the inbox item's ${field} holds a NUL character`
    if (hasLoneSurrogate(text)) {
      return `the inbox item's ${field} holds a lone surrogate (not well-formed Unicode)`
    }
  }
  return message.url === undefined ? undefined : linkProblem(message.url)
}

const MAX_URL_LENGTH = 2_048

/**
 * Why an item's link may not be stored, if it may not: apps render it as a link, so only a path
 * of the app (`/orders/1`, not `//host`) or an http(s) URL; no whitespace, control characters or
 * backslashes, which browsers drop or read as `/` (`/\t/evil.example` is `//evil.example`).
 */
function linkProblem(url: unknown): string | undefined {
  const problem = "the inbox item's url must be a path of the app ('/orders/1') or an http(s) URL"
  if (
    typeof url !== 'string' ||
    url.length > MAX_URL_LENGTH ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    /[\u0000-\u0020\u007f-\u009f\\]/.test(url)
  ) {
    return `${problem}, at most ${MAX_URL_LENGTH} characters without spaces, control characters or backslashes`
  }
  if (url.startsWith('/')) return url.startsWith('//') ? problem : undefined
  if (!URL.canParse(url)) return problem
  const { protocol } = new URL(url)
  return protocol === 'http:' || protocol === 'https:' ? undefined : problem
}
