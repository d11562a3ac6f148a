import { z } from 'zod'

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Options of {@link safeText}. */
export interface SafeTextOptions {
  /** The most characters (UTF-16 code units, as `.length` counts) accepted. Required: unbounded text is a cost anyone can impose. */
  readonly max: number
  /** The fewest characters accepted (default 0). */
  readonly min?: number
}

/**
 * A zod string every engine stores as it was given: at most `max` characters, no NUL byte
 * (PostgreSQL refuses it in text) and no lone UTF-16 surrogate (it has no UTF-8 form, so
 * drivers would store U+FFFD instead, and two different inputs would become one). Chain it
 * like any `z.string()`.
 *
 * @example
 * ```ts
 * import { safeText } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const login = z.object({
 *   email: safeText({ max: 254 }).trim().toLowerCase(),
 *   password: safeText({ min: 10, max: 200 }),
 * })
 * ```
 */
export function safeText(options: SafeTextOptions): z.ZodString {
  return z
    .string()
    .min(options.min ?? 0)
    .max(options.max)
    .refine((value) => !value.includes('\u0000'), { message: 'Must not contain a NUL character.' })
    .refine((value) => !hasLoneSurrogate(value), {
      message: 'Must be well-formed Unicode (no lone surrogate).',
    })
}

/**
 * Whether `text` holds a lone UTF-16 surrogate, which has no UTF-8 form: a driver, Redis or a
 * hash writes it as U+FFFD, so `'a\ud800'` and `'a\udfff'` would become one value. Refuse
 * such text before storing or hashing it; a surrogate pair (an emoji) is one character and fine.
 *
 * @example
 * ```ts
 * import { hasLoneSurrogate } from '@mortar/core'
 *
 * hasLoneSurrogate('a\ud800') // true
 * hasLoneSurrogate('a\ud83d\ude00') // false: a pair
 * ```
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text)
}
