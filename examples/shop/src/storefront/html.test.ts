import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { escapeHtml, html } from './html.js'

describe('html', () => {
  it('escapes every interpolated string, and nested templates only once', () => {
    const name = `<script>alert("x")</script> & 'friends'`
    const item = html`<li title="${name}">${name}</li>`
    expect(html`<ul>${[item, item]}</ul>`.toString()).toBe(
      `<ul>${`<li title="${escapeHtml(name)}">${escapeHtml(name)}</li>`.repeat(2)}</ul>`,
    )
    expect(html`${undefined}${null}${false}${0}`.toString()).toBe('0')
  })

  it('never lets an interpolated string open a tag or leave a quoted attribute', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const escaped = escapeHtml(text)
        expect(html`<p class="${text}">${text}</p>`.toString()).toBe(
          `<p class="${escaped}">${escaped}</p>`,
        )
        expect(escaped.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toMatch(/[<>"'&]/)
      }),
    )
  })
})
