import type { DatabaseEngine } from '@mortar/core'
import { AnalyticsQueryError } from '../errors.js'
import { anonymousKeySql, type PersonKey, userKey } from '../queries/person-key.js'
import {
  boundedList,
  describeArgument,
  Params,
  type QueryScope,
  run,
  scalarText,
} from '../queries/query-scope.js'
import { ALSO_SIZE, ALSO_SUPPORT, alsoOrder } from '../rollups/also-lists.js'
import type { ItemKind } from '../rollups/rollup-config.js'
import {
  ALSO_TABLE,
  type DbInt,
  IDENTITY_TABLE,
  ITEM_TABLE,
  PAIR_TABLE,
  UNIT_ITEM_TABLE,
} from '../storage/analytics-tables.js'
import { userIdOf } from '../tracker/index.js'

interface Row {
  other: string
  together: DbInt
  units: DbInt
  own: DbInt | null
}

function scored(rows: readonly Row[]): Recommendation[] {
  const own = Number(rows[0]?.own ?? 0)
  return rows.map((row) => {
    const together = Number(row.together)
    return { item: row.other, together, score: together / Math.sqrt(own * Number(row.units)) }
  })
}

/** Options of `alsoViewed` and `alsoBought`. */
export interface RecommendOptions {
  /** How many items to return (default 10, at most 100). */
  readonly limit?: number
  /** The fewest people who must share both items for a pair to count (default 2). */
  readonly minSupport?: number
  /** Items never to return (the cart, say). */
  readonly exclude?: readonly string[]
  /** Leave out what this user already bought (a string, a bigint or a safe integer, as user ids are stored). */
  readonly excludeBoughtBy?: string
}

/** One recommended item. */
export interface Recommendation {
  readonly item: string
  /** Cosine similarity of the two items' audiences: `together / sqrt(withItem × withOther)`, from 0 to 1. */
  readonly score: number
  /** People (or person-days, for views) who had both items. */
  readonly together: number
}

/**
 * "Also viewed" and "also bought" from the co-occurrence rollups. Raw co-occurrence counts
 * favour what everyone views; dividing by the geometric mean of both items' audiences (cosine
 * similarity over the people × items matrix) ranks an item by how much of its audience it
 * shares, so popular items do not swamp the list. Pairs seen fewer than `minSupport` times are
 * left out: one shared shopper is noise. The rollup keeps each item's 100 best-ranked others
 * (pairs of at least 2), so a recommendation reads a few rows of one key; a `minSupport` of 1,
 * or filters that leave too few of those 100, rank all of the item's pairs instead.
 */
export class Recommendations {
  readonly #scope: QueryScope

  constructor(scope: QueryScope) {
    this.#scope = scope
  }

  async recommend(
    kind: ItemKind,
    item: string,
    options: RecommendOptions = {},
  ): Promise<Recommendation[]> {
    const limit = options.limit ?? 10
    const minSupport = options.minSupport ?? 2
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new AnalyticsQueryError(`The limit must be an integer from 1 to 100; got ${limit}.`)
    }
    if (!Number.isInteger(minSupport) || minSupport < 1) {
      throw new AnalyticsQueryError(`minSupport must be a positive integer; got ${minSupport}.`)
    }
    const self = itemArgument('The item', item)
    const exclude = options.exclude ?? []
    if (!Array.isArray(exclude)) {
      throw new AnalyticsQueryError(
        `exclude must be an array of items; got ${describeArgument(exclude)}.`,
      )
    }
    const excluded = new Set(
      boundedList('exclude', exclude).map((other) => itemArgument('An excluded item', other)),
    )
    excluded.add(self)
    const filter: Exclusions = {
      items: [...excluded],
      buyer:
        options.excludeBoughtBy === undefined
          ? undefined
          : userIdOf('excludeBoughtBy user id', options.excludeBoughtBy),
    }
    if (minSupport >= ALSO_SUPPORT) {
      const listed = await this.#fromList(kind, self, limit, minSupport, filter)
      if (listed !== undefined) return listed
    }
    return this.#fromPairs(kind, self, limit, minSupport, filter)
  }

  /**
   * The answer from the item's ranked list (one short range of its key), or `undefined` when
   * the list cannot tell: it was cut at {@link ALSO_SIZE} and the filters left too few rows.
   */
  async #fromList(
    kind: ItemKind,
    item: string,
    limit: number,
    minSupport: number,
    excluded: Exclusions,
  ): Promise<Recommendation[] | undefined> {
    const params = new Params()
    const k = params.add(kind)
    const self = params.add(item)
    const support = minSupport > ALSO_SUPPORT ? ` and a.together >= ${params.add(minSupport)}` : ''
    const rows = await run<Row>(
      this.#scope,
      `select a.other, a.together, a.units, (select units from ${ITEM_TABLE} where kind = ${k} and item = ${self}) as own from ${ALSO_TABLE} a where a.kind = ${k} and a.item = ${self}${support} and ${exclusionSql(this.#scope.engine, excluded, 'a.other', params)} order by a.place limit ${limit}`,
      params,
    )
    if (rows.length < limit) {
      const count = new Params()
      const [listed] = await run<{ n: DbInt }>(
        this.#scope,
        `select count(*) as n from ${ALSO_TABLE} where kind = ${count.add(kind)} and item = ${count.add(item)}`,
        count,
      )
      if (Number(listed?.n ?? 0) >= ALSO_SIZE) return undefined
    }
    return scored(rows)
  }

  /** The answer ranked from all of the item's pairs: for what its list cannot answer. */
  async #fromPairs(
    kind: ItemKind,
    item: string,
    limit: number,
    minSupport: number,
    excluded: Exclusions,
  ): Promise<Recommendation[]> {
    const scope = this.#scope
    const params = new Params()
    const k = params.add(kind)
    const self = params.add(item)
    // One indexed range of the pairs; each audience by a correlated lookup on its full key,
    // never a join, which a planner with stale statistics turned into a scan of the items.
    const rows = await run<Row>(
      scope,
      `select r.other, r.together, r.units, (select units from ${ITEM_TABLE} where kind = ${k} and item = ${self}) as own from (select p.other, p.count as together, (select i.units from ${ITEM_TABLE} i where i.kind = p.kind and i.item = p.other) as units from ${PAIR_TABLE} p where p.kind = ${k} and p.item = ${self} and p.count >= ${params.add(minSupport)} and ${exclusionSql(this.#scope.engine, excluded, 'p.other', params)}) r where r.units is not null order by ${alsoOrder(scope, 'r.together', 'r.units', 'r.other')} limit ${limit}`,
      params,
    )
    return scored(rows)
  }
}

/** What an answer leaves out: the given items, and what `buyer` bought. */
interface Exclusions {
  readonly items: readonly string[]
  readonly buyer: string | undefined
}

/**
 * SQL keeping `column` (an item) when it is none of the excluded. What the buyer bought, as
 * their {@link PersonKey} and as the anonymous ids linked to them (units rolled up before the
 * link), never as another person whose id is the same text, is looked up in the statement,
 * never read into the process: a user linked to many devices (or a bot aliasing many ids) could
 * have bought more items than a statement binds values.
 */
function exclusionSql(
  engine: DatabaseEngine,
  excluded: Exclusions,
  column: string,
  params: Params,
): string {
  const listed = `${column} not in ${params.list(excluded.items)}`
  if (excluded.buyer === undefined) return listed
  const linked = anonymousKeySql(engine, 'anonymous_id')
  return `${listed} and not exists (select 1 from ${UNIT_ITEM_TABLE} b where b.kind = 'bought' and b.item = ${column} and (b.actor = ${params.add(userKey(excluded.buyer))} or b.actor in (select ${linked} from ${IDENTITY_TABLE} where user_id = ${params.add(excluded.buyer)})))`
}

/**
 * An item as the rollups store it: a string (its first 255 characters) or a finite number (its
 * digits, as an array of numbers stores them). Untyped code may pass anything: an `undefined` or
 * `null` in `exclude` made `not in (…, NULL)` match nothing, so every answer was empty.
 */
function itemArgument(what: string, value: unknown): string {
  const text =
    typeof value === 'string' || typeof value === 'number' ? scalarText(value) : undefined
  if (text === undefined) {
    throw new AnalyticsQueryError(
      `${what} must be a string or a finite number; got ${describeArgument(value)}.`,
    )
  }
  return text
}
