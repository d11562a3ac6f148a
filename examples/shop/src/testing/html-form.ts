/** The value of the first `<input name="…" value="…">` of `name` in a page. */
export function inputValue(page: string, name: string): string | undefined {
  const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(page)?.[0]
  return tag === undefined ? undefined : /value="([^"]*)"/.exec(tag)?.[1]
}
