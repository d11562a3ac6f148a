import { NotifyConfigError } from '../errors.js'

/** Catalogs of messages by locale, all of the shape of the fallback's, made by {@link defineTranslations}. */
export interface Translations<M> {
  /** The catalog for `locale`: exact (`fr-CH`), else its language (`fr`), else the fallback's. */
  for(locale: string | undefined): M
  /** The locales with a catalog. */
  readonly locales: readonly string[]
}

/**
 * Message catalogs for renderers: one object per locale, each of the same shape (strings or
 * functions), checked at compile time against the fallback locale's. Renderers pick the
 * recipient's with `context.locale`.
 *
 * @example
 * ```ts
 * import { defineTranslations } from '@mortar/notify'
 *
 * const messages = defineTranslations('en', {
 *   en: { subject: (id: string) => `Order ${id} shipped` },
 *   fr: { subject: (id: string) => `Commande ${id} expédiée` },
 * })
 *
 * // in a notification:
 * toMail(_recipient, { locale }) {
 *   return { subject: messages.for(locale).subject(this.orderId) }
 * }
 * ```
 */
export function defineTranslations<const L extends string, M>(
  fallback: L,
  catalogs: { readonly [K in L]: M } & { readonly [locale: string]: M },
): Translations<M> {
  const byLocale = new Map<string, M>()
  for (const [locale, catalog] of Object.entries(catalogs))
    byLocale.set(locale.toLowerCase(), catalog)
  const fallbackCatalog = byLocale.get(fallback.toLowerCase())
  if (fallbackCatalog === undefined) {
    throw new NotifyConfigError(
      `defineTranslations: the fallback locale '${fallback}' has no catalog.`,
    )
  }
  return Object.freeze({
    locales: Object.freeze(Object.keys(catalogs)),
    for(locale: string | undefined): M {
      if (locale === undefined) return fallbackCatalog
      const tag = locale.toLowerCase()
      return byLocale.get(tag) ?? byLocale.get(tag.split('-')[0] ?? tag) ?? fallbackCatalog
    },
  })
}
