import {
  currentRequestContext,
  type FetchHandler,
  globalToken,
  type RequestContext,
} from '@mortar/core'
import { type BUILT_IN_EVENTS, PAGE_TEXT_LIMITS } from '../catalog/built-in-events.js'
import type {
  AppEvents,
  EventInput,
  EventName,
  EventSchemas,
  PropertyFilter,
  ScalarKey,
} from '../catalog/define-events.js'
import { collectorHandler, dashboardHandler, heartbeatTag } from '../dashboard/index.js'
import type { ForgetReport } from '../privacy/forget-user.js'
import type {
  AnalyticsQueries,
  FunnelStepResult,
  PageDwell,
  RetentionCohort,
  SeriesPoint,
  TimeRange,
  TopValue,
} from '../queries/index.js'
import type { Recommendation, RecommendOptions, Recommendations } from '../recommendations/index.js'
import type { RollupReport } from '../rollups/index.js'
import type { AnalyticsStats, Tracker, TrackOptions } from '../tracker/index.js'
import { eventTime } from '../tracker/index.js'
import { uuidV7 } from '@mortar/core'

/** The catalogue plus Mortar's own events (`$page`, `$identify`, …), which queries can name too. */
export type QueryableEvents<E extends EventSchemas> = E & typeof BUILT_IN_EVENTS

/** One step of a funnel, or the cohort or return event of a retention: an event and an optional filter on its properties. */
export type EventStep<E extends EventSchemas> = {
  [K in EventName<QueryableEvents<E>>]: {
    readonly event: K
    readonly where?: PropertyFilter<QueryableEvents<E>, K>
  }
}[EventName<QueryableEvents<E>>]

/** Options of {@link Analytics.series}. */
export interface SeriesOptions<E extends EventSchemas, K extends EventName<QueryableEvents<E>>>
  extends TimeRange {
  /** `'day'` (default) or `'hour'`, in `timeZone`. */
  readonly interval?: 'hour' | 'day'
  /** An IANA time zone; the module's `timeZone` by default. */
  readonly timeZone?: string
  /** Count only events whose properties equal these. */
  readonly where?: PropertyFilter<QueryableEvents<E>, K>
}

/** Options of {@link Analytics.top}. */
export interface TopOptions extends TimeRange {
  /** How many values (default 10, at most 100). */
  readonly limit?: number
  readonly timeZone?: string
}

/** Options of {@link Analytics.funnel}. */
export interface FunnelOptions extends TimeRange {
  /** How long after step 1 the last step may come, in milliseconds. */
  readonly windowMs: number
}

/** Options of {@link Analytics.retention}. */
export interface RetentionOptions<E extends EventSchemas> extends TimeRange {
  /** The event that puts a person in the cohort of its period (their first one in the range). */
  readonly cohort: EventStep<E>
  /** The event that counts as coming back (it may be the same event). */
  readonly returning: EventStep<E>
  /** `'day'` (default) or `'week'` (ISO weeks, Monday first), in `timeZone`. */
  readonly period?: 'day' | 'week'
  /** How many periods after the cohort's to count returns in. */
  readonly periods: number
  readonly timeZone?: string
}

/** A top list on the dashboard. */
export type DashboardTop<E extends EventSchemas> = {
  [K in EventName<QueryableEvents<E>>]: {
    readonly event: K
    readonly key: ScalarKey<QueryableEvents<E>, K>
    readonly limit?: number
  }
}[EventName<QueryableEvents<E>>]

/** Options of {@link Analytics.dashboard}. */
export interface DashboardOptions<E extends EventSchemas> {
  /**
   * Who may see the page, decided from the request context (your auth's principal). Required:
   * when it returns false (or throws) the page answers 403.
   */
  readonly guard: (context: RequestContext) => boolean | Promise<boolean>
  /** The page title (default `'Analytics'`). */
  readonly title?: string
  /** Events charted per day. */
  readonly series?: readonly EventName<QueryableEvents<E>>[]
  /** Top values of event properties (top searches, say). */
  readonly top?: readonly DashboardTop<E>[]
  /** A funnel to show, with its window. */
  readonly funnel?: {
    readonly steps: readonly [EventStep<E>, ...EventStep<E>[]]
    readonly windowMs: number
  }
}

/** Options of {@link Analytics.dwell}. */
export interface DwellOptions extends TimeRange {
  /** How many paths, most engaged time first (default 20, at most 1,000). */
  readonly limit?: number
}

/** What `page()` records; the path defaults to the request's. */
export interface PageView {
  readonly path?: string
  readonly title?: string
  readonly referrer?: string
}

/** Options of {@link Analytics.forgetUser}. */
export interface ForgetOptions {
  /**
   * How long it may take, in milliseconds (default 60,000): then it rejects with a
   * `ForgetTimeoutError` and starts no further step.
   */
  readonly timeoutMs?: number
}

/** The parts an {@link Analytics} is made of. */
export interface AnalyticsParts {
  readonly tracker: Tracker
  readonly now: () => number
  readonly queries: AnalyticsQueries
  readonly recommendations: Recommendations
  readonly rollup: () => Promise<RollupReport>
  readonly forgetUser: (userId: string, options?: ForgetOptions) => Promise<ForgetReport>
  readonly applyRetention: () => Promise<number>
  readonly timeZone: string
  readonly heartbeatSeconds: number
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
   * Records an event. Never awaits I/O and never throws: the properties are serialised when
   * their batch is made (so do not change the object afterwards) and checked against the
   * catalogue when the batch is written (an event that fails goes to the
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
   * theirs in funnels, retention and uniques. The first link of an anonymous id wins. Only an
   * anonymous id the app supplies (a first-party cookie) is linked, never the cookieless one,
   * which everyone behind one address with one browser shares.
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
   * Records that `previousId`, an anonymous id (a visitor cookie's), is `userId`: an `$alias`
   * event and an identity link. Queries and `forgetUser` join a user's anonymous ids only: an
   * old user id given here stays a person of its own, counted and forgotten apart.
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
   * The path defaults to the request's, the referrer to its header, both without their query
   * string (or fragment).
   *
   * @example
   * ```ts
   * const pageViewId = analytics.page({ title: product.name })
   * ```
   */
  page(view: PageView = {}, options?: TrackOptions): string {
    const http = currentRequestContext()?.http
    const path = view.path ?? http?.url.split('?')[0] ?? '/'
    // The header's query and fragment are left out, as the path's query is: a same-site page
    // before may carry a reset token, a search or an email in them, which no one chose to track.
    const referrer = view.referrer ?? http?.header('referer')?.split(/[?#]/)[0]
    const given = options?.timestamp
    const at = given === undefined ? this.#parts.now() : eventTime(given)
    // An unusable timestamp goes on to the tracker, which keeps the event as failed.
    const id = uuidV7(at ?? this.#parts.now())
    // Cut to what a page view holds: the request's URL and referrer are no one's to bound (a
    // same-site referrer is the whole URL of the page before), and one too long failed the view.
    const properties: Record<string, string> = { path: clip(path, PAGE_TEXT_LIMITS.path) }
    if (view.title !== undefined) properties.title = clip(view.title, PAGE_TEXT_LIMITS.title)
    if (referrer !== undefined) properties.referrer = clip(referrer, PAGE_TEXT_LIMITS.referrer)
    void this.#parts.tracker.track('$page', properties, { ...options, timestamp: at ?? given }, id)
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
   * Event counts per local hour or day over `[from, to)`: one point per period overlapping the
   * range (counting only events inside it), zeros included. Daily counts in the module's time
   * zone over whole days come from the rollups (plus events not rolled up yet); anything else
   * (hours, another zone, a filter on a property without daily counts) scans the events.
   *
   * @example
   * ```ts
   * const days = await analytics.series('product_viewed', { from, to, interval: 'day' })
   * ```
   */
  series<K extends EventName<QueryableEvents<E>>>(
    event: K,
    options: SeriesOptions<E, K>,
  ): Promise<SeriesPoint[]> {
    return this.#parts.queries.series(event, options)
  }

  /**
   * The most frequent values of a property over `[from, to)`, most first (ties by value), each
   * with its count. Over whole days in the module's time zone, for a property with daily counts
   * (`counts` option), it reads the daily top lists; otherwise it scans the events.
   *
   * @example
   * ```ts
   * const searches = await analytics.top('product_searched', 'query', { from, to, limit: 10 })
   * ```
   */
  top<K extends EventName<QueryableEvents<E>>>(
    event: K,
    key: ScalarKey<QueryableEvents<E>, K>,
    options: TopOptions,
  ): Promise<TopValue[]> {
    return this.#parts.queries.top(event, key, options)
  }

  /**
   * How many distinct people did any of `events` (all events when empty) in `[from, to)`. A
   * person is the user id, else the user their anonymous id is linked to, else the anonymous id;
   * events recorded without identity count for no one.
   *
   * @example
   * ```ts
   * const visitors = await analytics.uniques(['$page'], { from, to })
   * ```
   */
  uniques(events: readonly EventName<QueryableEvents<E>>[], options: TimeRange): Promise<number> {
    return this.#parts.queries.uniques(events, options)
  }

  /**
   * An ordered funnel: how many people did step 1 in `[from, to)`, then step 2 after it, … each
   * step strictly after the previous, the last at most `windowMs` after step 1. Computed in one
   * pass over the events in time order, per person (see the README for the exact rules).
   *
   * @example
   * ```ts
   * const steps = await analytics.funnel(
   *   [{ event: 'product_viewed' }, { event: 'cart_added' }, { event: 'order_completed' }],
   *   { from, to, windowMs: 86_400_000 },
   * )
   * ```
   */
  funnel(
    steps: readonly [EventStep<E>, ...EventStep<E>[]],
    options: FunnelOptions,
  ): Promise<FunnelStepResult[]> {
    return this.#parts.queries.funnel(steps, options)
  }

  /**
   * Retention by cohort: people grouped by the local day or week of their first `cohort` event
   * in `[from, to)`, and for k = 1..periods how many did a `returning` event in the k-th period
   * after (after their cohort event).
   *
   * @example
   * ```ts
   * const cohorts = await analytics.retention({
   *   cohort: { event: '$identify' }, returning: { event: '$page' },
   *   from, to, period: 'week', periods: 4,
   * })
   * ```
   */
  retention(options: RetentionOptions<E>): Promise<RetentionCohort[]> {
    return this.#parts.queries.retention(options)
  }

  /**
   * Engaged time per page path for page views in `[from, to)`, from heartbeats (Snowplow's
   * page pings) with the page-leave as fallback; most engaged time first.
   *
   * @example
   * ```ts
   * const pages = await analytics.dwell({ from, to, limit: 10 })
   * ```
   */
  dwell(options: DwellOptions): Promise<PageDwell[]> {
    return this.#parts.queries.dwell(options)
  }

  /**
   * Items viewed by the people who viewed `item` (on the same day), ranked by cosine
   * similarity, without `item` itself; from the rollups.
   *
   * @example
   * ```ts
   * const related = await analytics.alsoViewed('p-42', { limit: 4 })
   * ```
   */
  alsoViewed(item: string, options?: RecommendOptions): Promise<Recommendation[]> {
    return this.#parts.recommendations.recommend('viewed', item, options)
  }

  /**
   * "Customers who bought this also bought": items bought by the people who bought `item`,
   * ranked by cosine similarity, without `item`, the `exclude` list and what `excludeBoughtBy`
   * already bought, each shared by at least `minSupport` people (default 2).
   *
   * @example
   * ```ts
   * const more = await analytics.alsoBought('p-42', { limit: 4, excludeBoughtBy: user.id })
   * ```
   */
  alsoBought(item: string, options?: RecommendOptions): Promise<Recommendation[]> {
    return this.#parts.recommendations.recommend('bought', item, options)
  }

  /**
   * Folds the events written since the last run into the rollups (daily counts, top lists,
   * co-occurrences). The module runs it on a schedule; call it to bring them up to date now.
   *
   * @example
   * ```ts
   * await analytics.flush()
   * await analytics.rollup()
   * ```
   */
  rollup(): Promise<RollupReport> {
    return this.#parts.rollup()
  }

  /**
   * Deletes everything recorded about a user, in one transaction (events under their id and
   * linked anonymous ids, failed events, identity links, their share of every rollup as far as
   * their events are still stored: `rollupsKeptBefore` says before when retention had deleted
   * events whose share it could not subtract), and suppresses their future events. Events of theirs still buffered are flushed first, then
   * deleted with the rest. A sink of the app's own is erased by its `forget` (counted in the
   * report), the anonymous ids of its `linkedAnonymousIds` suppressed first; one without those
   * or `forgetAnonymous` makes this throw `AnalyticsForgetError` before anything is done. With
   * such a sink the request is recorded first as an `analytics.forget` job, which finishes a run
   * cut short, and what a write stores there of a forgotten user later is erased by another.
   * It waits for every write to the sink still unanswered (one past its deadline may yet store
   * the user's events), within `timeoutMs` (60 s): past it, it rejects with a
   * `ForgetTimeoutError`, never reporting the user forgotten while such a write runs.
   *
   * @example
   * ```ts
   * const { events } = await analytics.forgetUser(user.id, { timeoutMs: 30_000 })
   * ```
   */
  forgetUser(userId: string, options?: ForgetOptions): Promise<ForgetReport> {
    return this.#parts.forgetUser(userId, options)
  }

  /**
   * Applies the retention now: deletes events older than `retentionDays`, the per-person rows
   * the rollups and identity links keep past it (see the README), and visitor-id salts older
   * than yesterday. The module runs it on a schedule. Returns the events deleted. An event
   * past `retentionDays` whose batch the rollup has not counted yet is kept until it has, so
   * retention depends on the rollup running; the batches held back are the rows of
   * `mortar_analytics_batch` whose `first_at` is older than the cut.
   *
   * @example
   * ```ts
   * await analytics.applyRetention()
   * ```
   */
  applyRetention(): Promise<number> {
    return this.#parts.applyRetention()
  }

  /**
   * The dashboard page as a `FetchHandler`, to mount under a prefix with your HTTP adapter:
   * visitors, events per day charted with Chart.js (served by the handler, no front-end build),
   * top values, a funnel, engaged time per page and "also bought" for an item, over the last 1
   * to 90 days. Every request goes through `guard`, deny by default.
   *
   * @example
   * ```ts
   * import { mountFetch } from '@mortar/core/fastify'
   *
   * await mountFetch(server, '/admin/analytics', analytics.dashboard({
   *   guard: (context) => context.get('principal')?.roles.includes('admin') ?? false,
   *   series: ['product_viewed'],
   *   top: [{ event: 'product_searched', key: 'query' }],
   * }))
   * ```
   */
  dashboard(options: DashboardOptions<E>): FetchHandler {
    const parts = this.#parts
    const queries = parts.queries
    return dashboardHandler(
      {
        now: parts.now,
        timeZone: parts.timeZone,
        series: (event, from, to) => queries.series(event, { from, to }),
        top: (event, key, from, to, limit) => queries.top(event, key, { from, to, limit }),
        funnel: (steps, from, to, windowMs) => queries.funnel(steps, { from, to, windowMs }),
        uniques: (from, to) => queries.uniques([], { from, to }),
        dwell: (from, to) => queries.dwell({ from, to }),
        alsoBought: (item) => parts.recommendations.recommend('bought', item, { limit: 10 }),
      },
      options,
    )
  }

  /**
   * The endpoint of the page script, as a `FetchHandler`: `GET …/script.js` serves the script,
   * `POST …/collect` records its heartbeats and page-leaves for `dwell()`. Mount it where the
   * storefront can post to it (exempt it from CSRF checks: beacons carry no token) and put
   * {@link Analytics.heartbeatTag} in each page.
   *
   * @example
   * ```ts
   * await mountFetch(server, '/a', analytics.collector())
   * ```
   */
  collector(): FetchHandler {
    return collectorHandler(this.#parts.tracker)
  }

  /**
   * The `<script>` tag that sends heartbeats for a page view, given where {@link
   * Analytics.collector} is mounted.
   *
   * @example
   * ```ts
   * const html = `<body>…${analytics.heartbeatTag(analytics.page(), '/a')}</body>`
   * ```
   */
  heartbeatTag(pageViewId: string, collectorPath: string): string {
    return heartbeatTag(pageViewId, collectorPath, this.#parts.heartbeatSeconds)
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
export const ANALYTICS = globalToken<Analytics>('mortar.analytics')

/**
 * `text` cut to at most `max` UTF-16 units, never through a surrogate pair. Units, not the code
 * points of `firstChars`: the `$page` schema's `max` is zod's, which counts units, so a cut by
 * code point could leave a view its own schema refuses.
 */
function clip(text: string, max: number): string {
  if (typeof text !== 'string' || text.length <= max) return text
  const last = text.charCodeAt(max - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max)
}
