import { timingSafeEqual } from 'node:crypto'

/**
 * Whether `sent` equals `expected`, in time that does not depend on where they differ: a
 * comparison that stops at the first differing character lets a client find a secret (a token,
 * a MAC) one character at a time.
 */
export function sameSecret(sent: string, expected: string): boolean {
  const left = Buffer.from(sent)
  const right = Buffer.from(expected)
  return left.length === right.length && timingSafeEqual(left, right)
}
