/** The value of the first `<input name="…" value="…">` of `name` in a page. */
export function inputValue(page: string, name: string): string | undefined {
  const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(page)?.[0]
  return tag === undefined ? undefined : /value="([^"]*)"/.exec(tag)?.[1]
}

/**
 * The fields a browser sends for the form of `page` whose action is `action`, as the page
 * rendered it: every named input with its value (the hidden ones too, such as `_csrf`), a
 * checkbox or radio only when checked, a select's selected option or else its first; `fields`
 * then stand for what the visitor typed or ticked (`undefined` unticks a box).
 */
export function formFields(
  page: string,
  action: string,
  fields: Readonly<Record<string, string | undefined>> = {},
): URLSearchParams {
  const forms = [...page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)]
  const form = forms.find((match) => attribute(match[1] ?? '', 'action') === action)
  if (form === undefined) throw new Error(`no form posts to ${action} on this page`)
  const sent = new Map<string, string>()
  for (const [tag] of (form[2] ?? '').matchAll(/<input\b[^>]*>/g)) {
    const name = attribute(tag, 'name')
    if (name === undefined) continue
    const type = attribute(tag, 'type') ?? 'text'
    const checked = /\schecked(\s|>|=)/.test(tag)
    if ((type === 'checkbox' || type === 'radio') && !checked) continue
    sent.set(name, attribute(tag, 'value') ?? (type === 'checkbox' ? 'on' : ''))
  }
  for (const [, open, options] of (form[2] ?? '').matchAll(
    /<select\b([^>]*)>([\s\S]*?)<\/select>/g,
  )) {
    const name = attribute(open ?? '', 'name')
    const all = [...(options ?? '').matchAll(/<option\b([^>]*)>([^<]*)/g)]
    const chosen = all.find(([, attrs]) => /\sselected/.test(attrs ?? '')) ?? all[0]
    if (name !== undefined && chosen !== undefined) {
      sent.set(name, attribute(chosen[1] ?? '', 'value') ?? (chosen[2] ?? '').trim())
    }
  }
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) sent.delete(name)
    else sent.set(name, value)
  }
  return new URLSearchParams([...sent])
}

function attribute(tag: string, name: string): string | undefined {
  const value = new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1]
  return value
    ?.replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
}
