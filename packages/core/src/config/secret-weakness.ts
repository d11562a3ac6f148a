/**
 * Why a key that Mortar signs or encrypts with is too weak to use, or `undefined`: fewer than 8
 * distinct bytes (`'k'.repeat(32)`, a zero-filled buffer) or a shorter part repeated
 * (`'changeme'.repeat(4)`). Length alone let such keys through; a random key never fails this
 * (32 random bytes hold about 30 distinct ones). Never shows the key.
 *
 * @example
 * ```ts
 * import { secretWeakness } from '@mortar/core'
 *
 * secretWeakness('k'.repeat(32)) // 'it has only 1 distinct byte'
 * secretWeakness(crypto.randomBytes(32)) // undefined
 * ```
 */
export function secretWeakness(key: string | Uint8Array): string | undefined {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
  const distinct = new Set(bytes).size
  if (distinct < MIN_DISTINCT) {
    return `it has only ${distinct} distinct byte${distinct === 1 ? '' : 's'}`
  }
  for (let period = 1; period <= bytes.length / 2; period++) {
    let repeats = true
    for (let i = period; i < bytes.length && repeats; i++) repeats = bytes[i] === bytes[i - period]
    if (repeats) return `it repeats its first ${period} bytes`
  }
  return undefined
}

const MIN_DISTINCT = 8
