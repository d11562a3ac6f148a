// The per-person ordered folds behind funnel (on SQLite and MariaDB), retention and dwell:
// plain functions over events in time order, so their semantics are tested without a database.

/** One event as the folds read it, in `(occurredAt, id)` order. */
export interface FoldEvent {
  readonly at: number
  readonly actor: string
  /** Indexes of the steps (funnel) or roles (retention) this event matches. */
  readonly matches: readonly number[]
}

/**
 * How many people reached each step of an ordered funnel. A person reaches step k when they did
 * steps 1..k in that order (each strictly after the previous in event order), step 1 inside
 * `[from, to)` and step k at most `windowMs` after that step 1. Computed as one pass in time
 * order keeping, per person and step, the latest step-1 time from which that step was reached:
 * the latest start leaves the most window for the steps after, so no start that could convert
 * further is missed, and each event is looked at once (no self-join per step).
 */
export function foldFunnel(
  events: Iterable<FoldEvent>,
  steps: number,
  range: { readonly from: number; readonly to: number },
  windowMs: number,
): number[] {
  const best = new Map<string, number[]>()
  for (const event of events) {
    let starts = best.get(event.actor)
    // Later steps first, so one event never serves as two consecutive steps.
    for (let m = event.matches.length - 1; m >= 0; m--) {
      const step = event.matches[m] as number
      if (step === 0) {
        if (event.at < range.from || event.at >= range.to) continue
        if (starts === undefined) {
          starts = new Array<number>(steps).fill(Number.NEGATIVE_INFINITY)
          best.set(event.actor, starts)
        }
        starts[0] = event.at
        continue
      }
      if (starts === undefined) continue
      const start = starts[step - 1] as number
      if (start === Number.NEGATIVE_INFINITY || event.at - start > windowMs) continue
      if (start > (starts[step] as number)) starts[step] = start
    }
  }
  const reached = new Array<number>(steps).fill(0)
  for (const starts of best.values()) {
    for (let step = 0; step < steps; step++) {
      if ((starts[step] as number) === Number.NEGATIVE_INFINITY) break
      reached[step] = (reached[step] as number) + 1
    }
  }
  return reached
}

/** One cohort of {@link foldRetention}. */
export interface CohortCount {
  /** Index of the cohort's period among `bounds`. */
  readonly period: number
  readonly size: number
  /** `returned[k]`: people of the cohort with a return event in the k-th period after theirs (k ≥ 1); `returned[0]` is the size. */
  readonly returned: number[]
}

/**
 * Retention by cohort. A person's cohort is the period of their first cohort event (role 0)
 * inside `[bounds[0], bounds[cohorts])`. They count as returned in period k ≥ 1 after it when
 * they did a return event (role 1) inside that period, after their cohort event. `bounds` are
 * period starts (local days or weeks), `cohorts + periods` of them plus the end.
 */
export function foldRetention(
  events: Iterable<FoldEvent>,
  bounds: readonly number[],
  cohorts: number,
  periods: number,
): CohortCount[] {
  const first = new Map<string, { at: number; period: number; returned: Set<number> }>()
  const periodOf = (at: number): number => {
    let lo = 0
    let hi = bounds.length - 1
    if (at < (bounds[0] as number) || at >= (bounds[hi] as number)) return -1
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if (at >= (bounds[mid] as number)) lo = mid
      else hi = mid
    }
    return lo
  }
  for (const event of events) {
    const period = periodOf(event.at)
    if (period < 0) continue
    let person = first.get(event.actor)
    if (event.matches.includes(1) && person !== undefined && event.at > person.at) {
      const k = period - person.period
      if (k >= 1 && k <= periods) person.returned.add(k)
    }
    if (event.matches.includes(0) && person === undefined && period < cohorts) {
      person = { at: event.at, period, returned: new Set() }
      first.set(event.actor, person)
    }
  }
  const result: CohortCount[] = Array.from({ length: cohorts }, (_, period) => ({
    period,
    size: 0,
    returned: new Array<number>(periods + 1).fill(0),
  }))
  for (const person of first.values()) {
    const cohort = result[person.period] as CohortCount
    ;(cohort as { size: number }).size++
    cohort.returned[0] = (cohort.returned[0] as number) + 1
    for (const k of person.returned) cohort.returned[k] = (cohort.returned[k] as number) + 1
  }
  return result
}

/** A page view, heartbeat or page-leave, as {@link foldDwell} reads them. */
export type DwellEvent =
  | { readonly kind: 'view'; readonly id: string; readonly at: number; readonly path: string }
  | { readonly kind: 'beat'; readonly view: string; readonly at: number; readonly seq: number }
  | { readonly kind: 'leave'; readonly view: string; readonly at: number }

/** Engaged time of one page view. */
export interface ViewDwell {
  readonly path: string
  readonly engagedMs: number
}

/**
 * Engaged time per page view, Snowplow's page-ping model: the page script sends a heartbeat
 * every `intervalMs` while the page is visible and was used in that interval; each distinct
 * heartbeat (by sequence number, so a resent one counts once) stands for one interval of
 * engagement. When the visitor leaves, the time since the last heartbeat (or since the view,
 * without any) counts up to one interval: the fallback for visits shorter than one interval.
 * A view with neither heartbeats nor a page-leave counts zero (a bounce we cannot time).
 * Heartbeats count for at most the intervals that passed until the last of them, so a client
 * sending sequence numbers faster than time passes cannot inflate a view.
 */
export function foldDwell(
  events: Iterable<DwellEvent>,
  intervalMs: number,
): Map<string, ViewDwell> {
  const views = new Map<
    string,
    { path: string; at: number; seqs: Set<number>; last: number; leave: number | undefined }
  >()
  const orphans: DwellEvent[] = []
  const apply = (event: DwellEvent): boolean => {
    if (event.kind === 'view') return true
    const view = views.get(event.view)
    if (view === undefined) return false
    if (event.kind === 'beat') {
      if (event.at >= view.at) {
        view.seqs.add(event.seq)
        if (event.at > view.last) view.last = event.at
      }
    } else if (event.at >= view.at && (view.leave === undefined || event.at < view.leave)) {
      view.leave = event.at
    }
    return true
  }
  for (const event of events) {
    if (event.kind === 'view') {
      views.set(event.id, {
        path: event.path,
        at: event.at,
        seqs: new Set(),
        last: event.at,
        leave: undefined,
      })
    } else if (!apply(event)) {
      orphans.push(event)
    }
  }
  // Same-millisecond events may come before their view.
  for (const event of orphans) apply(event)
  const result = new Map<string, ViewDwell>()
  for (const [id, view] of views) {
    // Beacons are sent by the client, so as many sequence numbers as it likes; a page view's
    // heartbeats never stand for more intervals than passed between it and the last of them.
    const elapsed = Math.ceil((view.last - view.at) / intervalMs)
    let engaged = Math.min(view.seqs.size, elapsed) * intervalMs
    if (view.leave !== undefined)
      engaged += Math.min(Math.max(0, view.leave - view.last), intervalMs)
    result.set(id, { path: view.path, engagedMs: engaged })
  }
  return result
}
