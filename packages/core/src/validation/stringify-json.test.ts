import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type JsonChange, type JsonChangeKind, stringifyJson } from './stringify-json.js'

class Money {
  readonly cents = 5
}

const hole: number[] = []
hole[1] = 1

/** One value of each kind JSON writes as another, where it is found, and in words. */
const CHANGES: readonly (readonly [unknown, JsonChangeKind, string, string])[] = [
  [{ at: new Date(0) }, 'to-json', 'at', 'a Date into a string'],
  [{ at: new Date(Number.NaN) }, 'to-json', 'at', 'a Date into null'],
  [{ money: new Money() }, 'instance', 'money', 'a Money into a plain object'],
  [{ map: new Map([[1, 2]]) }, 'built-in', 'map', 'a Map into a plain object'],
  [{ error: new Error('x') }, 'built-in', 'error', 'an Error into a plain object'],
  [{ bytes: new Uint8Array(2) }, 'built-in', 'bytes', 'a Uint8Array into a plain object'],
  [{ n: Object(2) }, 'boxed', 'n', 'a Number into number'],
  [{ s: Object('s') }, 'boxed', 's', 'a String into a string'],
  [{ order: { lines: [{ amount: -0 }] } }, 'negative-zero', 'order.lines.0.amount', '-0 into 0'],
  [{ score: Number.NaN }, 'not-finite', 'score', 'NaN into null'],
  [[Number.NEGATIVE_INFINITY], 'not-finite', '0', '-Infinity into null'],
  [{ n: Object(Number.NaN) }, 'not-finite', 'n', 'a boxed NaN into null'],
  [[1, undefined], 'nulled', '1', 'undefined into null'],
  [hole, 'nulled', '0', 'undefined into null'],
  [{ list: [Symbol('s')] }, 'nulled', 'list.0', 'symbol into null'],
  [{ run: () => 1 }, 'dropped', 'run', 'a function into nothing'],
  [new Map(), 'built-in', '(root)', 'a Map into a plain object'],
]

describe('stringifyJson', () => {
  it('writes what JSON.stringify writes, and finds no change in a JSON value but -0', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), (value) => {
        const { json, change } = stringifyJson(value)
        expect(json).toBe(JSON.stringify(value))
        expect(change?.kind).toBe(hasNegativeZero(value) ? 'negative-zero' : undefined)
      }),
    )
  })

  it('finds the first value JSON writes as another, its kind, where and in words', () => {
    for (const [value, kind, path, text] of CHANGES) {
      const { json, change } = stringifyJson(value)
      expect(json).toBe(JSON.stringify(value))
      expect(change, text).toMatchObject({ kind, path, text })
    }
  })

  it('reports an undefined field, which reads back absent, as no change', () => {
    expect(stringifyJson({ a: 1, b: undefined }).change).toBeUndefined()
  })

  it("goes on past a change the caller's rule accepts, into what a toJSON() gave", () => {
    const datesAsText = (found: JsonChange) => found.kind === 'to-json' && found.written !== null
    expect(stringifyJson({ at: new Date(0) }, { accept: datesAsText }).change).toBeUndefined()
    expect(
      stringifyJson({ at: new Date(0), later: { score: Number.NaN } }, { accept: datesAsText })
        .change,
    ).toMatchObject({ kind: 'not-finite', path: 'later.score' })
    expect(
      stringifyJson({ at: new Date(Number.NaN) }, { accept: datesAsText }).change,
    ).toMatchObject({ kind: 'to-json', path: 'at', written: null })
    const gives = { toJSON: () => new Set([1]) }
    expect(stringifyJson({ gives }, { accept: datesAsText }).change).toMatchObject({
      kind: 'built-in',
      path: 'gives',
    })
    // A class instance taken as its fields: the walk reads them, with their paths.
    const instances = (found: JsonChange) => found.kind === 'instance'
    const inside = Object.assign(new Money(), { nested: { n: -0 } })
    expect(stringifyJson({ inside }, { accept: instances }).change).toMatchObject({
      kind: 'negative-zero',
      path: 'inside.nested.n',
    })
  })

  it('throws what JSON.stringify throws', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(() => stringifyJson({ n: 1n })).toThrow(TypeError)
    expect(() => stringifyJson(cycle)).toThrow(TypeError)
  })
})

function hasNegativeZero(value: unknown): boolean {
  if (Object.is(value, -0)) return true
  if (typeof value !== 'object' || value === null) return false
  return Object.values(value).some(hasNegativeZero)
}
