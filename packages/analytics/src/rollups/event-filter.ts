import type { Params } from '../queries/query-scope.js'

/** A condition on the events `e`, adding its parameters to `params`. */
export type EventFilter = (params: Params) => string

/** The first and last instant of the events a filter selects. */
export interface EventSpan {
  readonly first: number
  readonly last: number
}
