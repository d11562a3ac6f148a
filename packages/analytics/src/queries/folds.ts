// The per-person ordered folds behind the funnel and retention on MariaDB: plain functions over
// ordered rows, tested through the queries on every engine (funnel.property, retention.property,
// fixture tests).

/** One event as the folds read it, in `(occurredAt, id)` order. */
export interface FoldEvent {
  readonly at: number
  readonly actor: string
  /** Indexes of the steps this event matches. */
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

/** A row of a retention's events, as the query reads it (numbers may come back as text). */
export interface RetentionRow {
  readonly actor: string
  readonly at: number | string
  /** 1 for a cohort event inside the range. */
  readonly c: number | string
  /** 1 for a returning event. */
  readonly r: number | string
  /** The number of its local period. */
  readonly pa: number | string
}

/**
 * Retention from rows sorted by person, then time: for each cohort period `cp` and period `pa`
 * up to `reach` after it, how many people whose first cohort event fell in `cp` did something
 * in `pa` (`pa = cp` counts the cohort): the cohort event, or a returning event after it. Memory
 * holds one person and the answer, however many rows stream in.
 */
export async function foldRetention(
  rows: AsyncIterable<RetentionRow>,
  reach: number,
): Promise<{ readonly cp: number; readonly pa: number; readonly n: number }[]> {
  const counts = new Map<number, Map<number, number>>()
  let actor: string | undefined
  let first: { readonly at: number; readonly cp: number } | undefined
  const seen = new Set<number>()
  const close = (): void => {
    if (first === undefined) return
    const cohort = counts.get(first.cp) ?? new Map<number, number>()
    counts.set(first.cp, cohort)
    for (const pa of seen) cohort.set(pa, (cohort.get(pa) ?? 0) + 1)
  }
  for await (const row of rows) {
    if (row.actor !== actor) {
      close()
      actor = row.actor
      first = undefined
      seen.clear()
    }
    const at = Number(row.at)
    const pa = Number(row.pa)
    if (first === undefined) {
      if (Number(row.c) === 1) {
        first = { at, cp: pa }
        seen.add(pa)
      }
    } else if (Number(row.r) === 1 && at > first.at && pa - first.cp <= reach) {
      seen.add(pa)
    }
  }
  close()
  return [...counts].flatMap(([cp, cohort]) => [...cohort].map(([pa, n]) => ({ cp, pa, n })))
}
