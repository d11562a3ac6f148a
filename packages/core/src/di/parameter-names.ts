/**
 * The names of a class's constructor parameters, read from its source text, for error messages.
 * An entry is `undefined` where no plain name exists (destructuring) and the list is empty when
 * the source cannot be read (a native or bound function, a class without its own constructor).
 */
export function parameterNames(target: Function): readonly (string | undefined)[] {
  let source: string
  try {
    source = Function.prototype.toString.call(target)
  } catch {
    return []
  }
  const open = openingParen(source)
  if (open < 0) return []
  const list = parameterList(source, open)
  if (list === undefined || list.trim() === '') return []
  return splitTopLevel(list).map((parameter) => {
    const text = parameter.trim().replace(/^\.\.\./, '')
    return /^[A-Za-z_$][\w$]*/.exec(text)?.[0]
  })
}

function openingParen(source: string): number {
  if (/^class\b/.test(source)) {
    // Not `new this.constructor(` inside a method of a class that has no constructor of its own.
    const match = /(?<![.\w$])constructor\s*\(/.exec(source)
    return match ? match.index + match[0].length - 1 : -1
  }
  return source.indexOf('(')
}

// Scans to the matching ')' so that default values with calls, objects or strings do not end it.
function parameterList(source: string, open: number): string | undefined {
  let depth = 0
  let quote: string | undefined
  for (let i = open; i < source.length; i++) {
    const char = source[i]
    if (quote) {
      if (char === '\\') i++
      else if (char === quote) quote = undefined
      continue
    }
    if (char === '"' || char === "'" || char === '`') quote = char
    else if (char === '(' || char === '[' || char === '{') depth++
    else if (char === ')' || char === ']' || char === '}') {
      depth--
      if (depth === 0) return source.slice(open + 1, i)
    }
  }
  return undefined
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < list.length; i++) {
    const char = list[i]
    if (quote) {
      if (char === '\\') i++
      else if (char === quote) quote = undefined
      continue
    }
    if (char === '"' || char === "'" || char === '`') quote = char
    else if (char === '(' || char === '[' || char === '{') depth++
    else if (char === ')' || char === ']' || char === '}') depth--
    else if (char === ',' && depth === 0) {
      parts.push(list.slice(start, i))
      start = i + 1
    }
  }
  parts.push(list.slice(start))
  return parts.filter((part) => part.trim() !== '')
}
