// The per-person ordered folds behind funnel (on MariaDB) and retention: plain functions over
// ordered events, tested through the queries on every engine (funnel.property, fixture tests).

/** One event as the folds read it, in `(occurredAt, id)` order. */
export interface FoldEvent {
  readonly at: number
  readonly actor: string
  /** Indexes of the steps (funnel) or roles (retention) this event matches. */
  readonly matches: readonly number[]
}

/**
 * How many people reached each step of an ordered funnel, from events sorted by person, then
 * `(time, id)`, where `matches` holds step 1 (0) only for a step-1 event inside the range. A
 * person reaches step k when they did steps 1..k in that order (each strictly after the
 * previous), step k at most `windowMs` after that step 1. One person's state at a time, kept as
 * the latest step-1 time from which each step was reached: the latest start leaves the most
 * window for the steps after, so no start that could convert further is missed. Memory holds one
 * event and one person, however many events stream in.
 */
export async function foldFunnel(
  events: AsyncIterable<FoldEvent>,
  steps: number,
  windowMs: number,
): Promise<number[]> {
  const reached = new Array<number>(steps).fill(0)
  const starts = new Array<number>(steps).fill(Number.NEGATIVE_INFINITY)
  const count = (): void => {
    for (let step = 0; step < steps && (starts[step] as number) > Number.NEGATIVE_INFINITY; step++)
      reached[step] = (reached[step] as number) + 1
  }
  let actor: string | undefined
  for await (const event of events) {
    if (event.actor !== actor) {
      count()
      starts.fill(Number.NEGATIVE_INFINITY)
      actor = event.actor
    }
    // Later steps first, so one event never serves as two consecutive steps.
    for (let m = event.matches.length - 1; m >= 0; m--) {
      const step = event.matches[m] as number
      if (step === 0) {
        starts[0] = event.at
        continue
      }
      const start = starts[step - 1] as number
      if (start === Number.NEGATIVE_INFINITY || event.at - start > windowMs) continue
      if (start > (starts[step] as number)) starts[step] = start
    }
  }
  count()
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
