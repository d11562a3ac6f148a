/**
 * What `toChat()` returns: a Slack-style incoming-webhook message, `text` and optional
 * `blocks` passed through as given. `text` is Slack markup: `<!channel>` notifies the room, so
 * put what a user typed through `escapeChat`.
 *
 * @example
 * ```ts
 * import type { ChatMessage } from '@mortar/notify'
 *
 * const message: ChatMessage = { text: ':rotating_light: Heap above 90%' }
 * ```
 */
export interface ChatMessage {
  readonly text: string
  readonly blocks?: readonly unknown[] | undefined
}
