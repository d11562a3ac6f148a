import { z } from 'zod'

// `id:password,…`: ids are the session module's key ids (positive integers), passwords 32+
// characters without a comma.
const RING_ENTRY = /^([1-9]\d{0,8}):([^,]{32,})$/

/**
 * `SESSION_PASSWORD` as the session module's key ring: one password (key 1, which sealed every
 * cookie the shop gave before it had rings), or `1:old,2:new`, where the highest id seals and
 * every id opens, so a rotation logs no one out and loses no cart (a cart's id is in the
 * cookie). A value that starts like a ring (`2:`) but is not one is refused, never taken for one
 * password: that would open none of the cookies in use.
 */
export const sessionKeyRingSchema = z.string().transform((value, context) => {
  if (!/^\d+:/.test(value)) {
    if (value.length < 32) {
      context.addIssue({ code: 'custom', message: 'must be at least 32 characters' })
      return z.NEVER
    }
    return { 1: value } as Readonly<Record<number, string>>
  }
  const ring: Record<number, string> = {}
  for (const entry of value.split(',')) {
    const match = RING_ENTRY.exec(entry.trim())
    const id = Number(match?.[1])
    if (match === null || ring[id] !== undefined) {
      context.addIssue({
        code: 'custom',
        message:
          'a key ring is id:password,… with distinct positive integer ids and passwords of 32+ characters without commas (the highest id seals)',
      })
      return z.NEVER
    }
    ring[id] = match[2] as string
  }
  return ring as Readonly<Record<number, string>>
})
