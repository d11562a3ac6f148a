/**
 * Escapes text for a Slack-style chat message so that it shows as typed and notifies no one:
 * `&`, `<` and `>` become entities (Slack's own escaping, which defuses `<!channel>`, `<!here>`,
 * `<@U123>` and links), and an `@` that starts a word (`@channel`, `@here`, `@all`, `@everyone`,
 * `@alice` on Mattermost) or names a room-wide mention anywhere (`a@everyone` on Discord) gets an
 * invisible zero-width space after it. Mail addresses (`eve@example.com`) keep theirs as typed.
 * Use it for whatever a user or an attacker typed (a login name, an error message) in `toChat()`.
 *
 * @example
 * ```ts
 * import { escapeChat } from '@mortar/notify'
 *
 * const toChat = () => ({ text: `Login lockout of ${escapeChat(account)}` })
 * escapeChat('<!channel> @here') // '&lt;!channel&gt; @\u200Bhere'
 * ```
 */
export function escapeChat(text: string): string {
  return text
    .replace(/[&<>]/g, (char) => ENTITIES[char] ?? char)
    .replace(/(?<![\p{L}\p{N}_.+-])@|@(?=(?:channel|here|all|everyone)\b)/giu, '@\u200B')
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' }
