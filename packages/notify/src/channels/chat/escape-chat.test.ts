import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AdminAlert } from '../../alerts/admin-alert.js'
import { escapeChat } from './escape-chat.js'

/** What a chat client shows of text: entities decoded, zero-width spaces unseen. */
function shown(text: string): string {
  return text
    .replaceAll('\u200B', '')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
}

const MENTION = /<[!@#]|(?<![\p{L}\p{N}_.+-])@(?!\u200B)|@(?:channel|here|all|everyone)\b/iu

describe('escapeChat', () => {
  it('leaves no mention or link a chat service would act on, and shows the text as typed', () => {
    const typed = fc.stringMatching(/^[a-z@<>&!#.\s\u200B]{0,40}$/)
    fc.assert(
      fc.property(fc.oneof(typed, fc.string()), (text) => {
        const escaped = escapeChat(text)
        expect(escaped).not.toMatch(MENTION)
        expect(escaped).not.toMatch(/[<>]/)
        expect(shown(escaped)).toBe(text.replaceAll('\u200B', ''))
      }),
    )
  })

  it('keeps mail addresses as typed', () => {
    expect(escapeChat('eve@example.com and ops+x@shop.example')).toBe(
      'eve@example.com and ops+x@shop.example',
    )
  })

  it("defuses the mentions in an admin alert's attacker-typed text", () => {
    const alert = new AdminAlert(
      {
        state: 'raised',
        alert: { key: 'login', title: 'Lockout of @channel', detail: 'account: <!here> @everyone' },
        count: 1,
        since: '2026-06-01T10:00:00.000Z',
        host: 'web-1',
      },
      ['chat'],
    )
    const { text } = alert.toChat()
    expect(text).not.toMatch(MENTION)
    expect(shown(text)).toContain('account: <!here> @everyone')
  })
})
