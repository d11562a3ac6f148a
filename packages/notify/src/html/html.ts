/** HTML that is safe to insert as is: made by {@link html} or {@link unsafeHtml}. */
export class SafeHtml {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  toString(): string {
    return this.#value
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes `&`, `<`, `>`, `"` and `'` so text is shown as text in HTML, in content or attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char)
}

/**
 * A template tag for HTML mail bodies and pages: every interpolated value is escaped, except
 * {@link SafeHtml} (nested `html` templates); arrays are joined; `null`, `undefined` and `false`
 * render nothing. A customer's name can never inject markup into a mail.
 *
 * @example
 * ```ts
 * import { html } from '@mortar/notify'
 *
 * const items = ['Tea', '<b>Cake</b>']
 * const body = html`<p>Hello ${name},</p><ul>${items.map((item) => html`<li>${item}</li>`)}</ul>`
 * String(body) // '<p>Hello Ada,</p><ul><li>Tea</li><li>&lt;b&gt;Cake&lt;/b&gt;</li></ul>'
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): SafeHtml {
  let out = strings[0] ?? ''
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '')
  })
  return new SafeHtml(out)
}

/**
 * Marks trusted HTML (your own template's output) to be inserted unescaped by {@link html}.
 * Never pass it anything a user typed.
 *
 * @example
 * ```ts
 * import { html, unsafeHtml } from '@mortar/notify'
 *
 * html`<div>${unsafeHtml(renderedMarkdown)}</div>`
 * ```
 */
export function unsafeHtml(markup: string): SafeHtml {
  return new SafeHtml(markup)
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof SafeHtml) return value.toString()
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}
