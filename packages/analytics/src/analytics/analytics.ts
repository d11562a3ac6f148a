import { currentRequestContext, token } from '@mortar/core'
import type { AppEvents, EventInput, EventName, EventSchemas } from '../catalog/define-events.js'
import type { AnalyticsStats, Tracker, TrackOptions } from '../tracker/index.js'
import { uuidV7 } from '../tracker/index.js'

/** What `page()` records; the path defaults to the request's. */
export interface PageView {
  readonly path?: string
  readonly title?: string
  readonly referrer?: string
}

/** The parts an {@link Analytics} is made of. */
export interface AnalyticsParts {
  readonly tracker: Tracker
  readonly now: () => number
}

/**
 * The app's analytics: tracking (`track`, `identify`, `page`, `alias`, `trackNow`, `flush`) and
 * the answers (`series`, `top`, `uniques`, `funnel`, `retention`, `dwell`, `alsoViewed`,
 * `alsoBought`), typed by the event catalogue. Get it with `app.resolve(ANALYTICS)`.
 *
 * @example
 * ```ts
 * import { ANALYTICS } from '@mortar/analytics'
 *
 * const analytics = app.resolve(ANALYTICS)
 * analytics.track('product_viewed', { productId: 'p-42' })
 * ```
 */
export class Analytics<E extends EventSchemas = AppEvents> {
  readonly #parts: AnalyticsParts

  /** @internal Made by `analyticsModule`; resolve `ANALYTICS` to get the app's. */
  constructor(parts: AnalyticsParts) {
    this.#parts = parts
  }

  /**
   * Records an event. Never awaits I/O and never throws: the properties are snapshotted now and
   * checked against the catalogue when the batch is written (an event that fails goes to the
   * failed-events table with the reason). The user, anonymous and session ids come from the
   * request context unless `options` give them. Inside a transaction of the app database, the
   * event is recorded only if it commits. Returns `undefined`, or under the `block` overflow
   * policy with a full buffer a promise to await before tracking more.
   *
   * @example
   * ```ts
   * analytics.track('product_searched', { query: 'green tea' })
   * ```
   */
  track<K extends EventName<E>>(
    name: K,
    properties: EventInput<E, K>,
    options?: TrackOptions,
  ): Promise<void> | undefined {
    return this.#parts.tracker.track(name, properties, options)
  }

  /**
   * Writes one event and resolves once it is stored: for scripts and jobs that end right after,
   * and for events that must commit with the caller's transaction (it joins one that is open).
   *
   * @example
   * ```ts
   * await analytics.trackNow('import_finished', { rows: 1200 })
   * ```
   */
  trackNow<K extends EventName<E>>(
    name: K,
    properties: EventInput<E, K>,
    options?: TrackOptions,
  ): Promise<void> {
    return this.#parts.tracker.trackNow(name, properties, options)
  }

  /**
   * Records that the current visitor is `userId` (an `$identify` event with its traits) and
   * links the visitor's anonymous id to the user, so what they did before signing in counts as
   * theirs in funnels, retention and uniques. The first link of an anonymous id wins.
   *
   * @example
   * ```ts
   * analytics.identify(user.id, { plan: 'pro' })
   * ```
   */
  identify(
    userId: string,
    traits?: Readonly<Record<string, unknown>>,
    options?: Omit<TrackOptions, 'userId'>,
  ): Promise<void> | undefined {
    return this.#parts.tracker.track('$identify', traits === undefined ? {} : { traits }, {
      ...options,
      userId,
    })
  }

  /**
   * Records that `previousId` (an anonymous id, an old user id) is `userId`: an `$alias` event and
   * an identity link.
   *
   * @example
   * ```ts
   * analytics.alias(cookieVisitorId, user.id)
   * ```
   */
  alias(
    previousId: string,
    userId: string,
    options?: Omit<TrackOptions, 'userId'>,
  ): Promise<void> | undefined {
    return this.#parts.tracker.track('$alias', { previousId }, { ...options, userId })
  }

  /**
   * Records a page view (`$page`) and returns its id, for the page's heartbeat script
   * (`collectorScript`): heartbeats and the page-leave refer to it, and `dwell()` joins them.
   * The path defaults to the request's (without its query string), the referrer to its header.
   *
   * @example
   * ```ts
   * const pageViewId = analytics.page({ title: product.name })
   * ```
   */
  page(view: PageView = {}, options?: TrackOptions): string {
    const http = currentRequestContext()?.http
    const path = view.path ?? http?.url.split('?')[0] ?? '/'
    const referrer = view.referrer ?? http?.header('referer')
    const at =
      options?.timestamp === undefined
        ? this.#parts.now()
        : typeof options.timestamp === 'number'
          ? options.timestamp
          : options.timestamp.getTime()
    const id = uuidV7(at)
    const properties: Record<string, string> = { path }
    if (view.title !== undefined) properties.title = view.title
    if (referrer !== undefined) properties.referrer = referrer
    void this.#parts.tracker.track('$page', properties, { ...options, timestamp: at }, id)
    return id
  }

  /**
   * Resolves once every event tracked before the call is written (or failed, or reported
   * dropped). With `timeoutMs`, rejects with a `FlushTimeoutError` past it; the events stay
   * buffered.
   *
   * @example
   * ```ts
   * await analytics.flush({ timeoutMs: 5_000 })
   * ```
   */
  flush(options?: { readonly timeoutMs?: number }): Promise<void> {
    return this.#parts.tracker.flush(options)
  }

  /**
   * Counters since start: tracked, stored, failed, dropped by reason, skipped, buffered.
   *
   * @example
   * ```ts
   * const { dropped, buffered } = analytics.stats()
   * ```
   */
  stats(): AnalyticsStats {
    return this.#parts.tracker.stats()
  }
}

/**
 * The app's {@link Analytics}, typed by the catalogue declared in `AnalyticsTypes`.
 *
 * @example
 * ```ts
 * import { ANALYTICS } from '@mortar/analytics'
 *
 * app.resolve(ANALYTICS).track('product_viewed', { productId: 'p-42' })
 * ```
 */
export const ANALYTICS = token<Analytics>('mortar.analytics')
