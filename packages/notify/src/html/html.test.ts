import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { escapeHtml, html, unsafeHtml } from './html.js'

describe('html', () => {
  it('escapes interpolated values, joins arrays and nests templates unescaped', () => {
    const items = ['Tea', '<b>Cake</b>']
    const body = html`<ul>${items.map((item) => html`<li>${item}</li>`)}</ul><p title="${'"x"'}">${null}${false}${0}</p>`
    expect(String(body)).toBe(
      '<ul><li>Tea</li><li>&lt;b&gt;Cake&lt;/b&gt;</li></ul><p title="&quot;x&quot;">0</p>',
    )
  })

  it('inserts unsafeHtml as is', () => {
    expect(String(html`<div>${unsafeHtml('<em>ok</em>')}</div>`)).toBe('<div><em>ok</em></div>')
  })

  it('never lets an interpolated string open a tag or leave an attribute', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const out = String(html`<a title="${text}">${text}</a>`)
        const inner = out.slice('<a title="'.length, -'</a>'.length)
        expect(inner.replace('">', '')).not.toMatch(/[<>"]/)
        expect(escapeHtml(text)).not.toMatch(/[<>"']/)
      }),
    )
  })
})
