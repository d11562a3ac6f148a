import type { RequestContext } from '@mortar/core'

/**
 * Consent, per request. Without it, events are dropped (`'drop'`) or recorded without any
 * identity (`'anonymous'`: no user, visitor or session id, even one passed in the call's
 * options, so they count in totals and top lists but in no per-person answer; `identify` and
 * `alias` are dropped). A `granted` that throws is a refusal. Events tracked outside a request
 * (a job) are recorded as given.
 *
 * @example
 * ```ts
 * import { analyticsModule } from '@mortar/analytics'
 *
 * analyticsModule({
 *   events,
 *   consent: {
 *     granted: (context) => context.http?.header('cookie')?.includes('consent=yes') ?? false,
 *     without: 'anonymous',
 *   },
 * })
 * ```
 */
export interface ConsentOptions {
  readonly granted: (context: RequestContext) => boolean
  readonly without: 'drop' | 'anonymous'
}
