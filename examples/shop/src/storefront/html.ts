/** Markup that is already safe: made by {@link html}, so it is never escaped again. */
export class Html {
  readonly #text: string

  /** Made by {@link html} and {@link unsafeHtml}; nothing else should call it. */
  constructor(text: string) {
    this.#text = text
  }

  toString(): string {
    return this.#text
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Text made safe for an HTML element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] as string)
}

function render(value: unknown): string {
  if (value instanceof Html) return value.toString()
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === undefined || value === null || value === false) return ''
  return escapeHtml(String(value))
}

/**
 * A template of HTML in which every interpolated value is escaped, unless it is {@link Html}
 * itself (a nested template); arrays are joined, and `undefined`, `null` and `false` render
 * nothing. Every page of the storefront is written with it, so a product name or a search query
 * can never become markup.
 *
 * @example
 * ```ts
 * const row = (name: string) => html`<li>${name}</li>`
 * html`<ul>${['<b>', 'tea'].map(row)}</ul>`.toString() // <ul><li>&lt;b&gt;</li><li>tea</li></ul>
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0] ?? ''
  for (let index = 0; index < values.length; index += 1) {
    text += render(values[index]) + (strings[index + 1] ?? '')
  }
  return new Html(text)
}

/** Markup from a trusted source (the shop's own CSS or script), inserted as it is. */
export function unsafeHtml(text: string): Html {
  return new Html(text)
}
