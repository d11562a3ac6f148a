import type { QueryScope } from './query-scope.js'
import { removeUnits } from '../rollups/cooccurrence-units.js'
import type { UnitItemRow } from '../storage/analytics-tables.js'
import { anonymousKey, type PersonKey, userKey } from './person-key.js'

declare const scope: QueryScope

// What must compile: people made by their kind.
export const forgotten: Promise<void> = removeUnits(scope, [userKey('bob'), anonymousKey('bob')])
export const row: UnitItemRow = { kind: 'bought', actor: userKey('bob'), unit: '', item: 'p1' }

// What must not: a bare id, which a user and a visitor may share.
// @ts-expect-error a bare id is no person: say whether it is a user's or a visitor's
removeUnits(scope, ['bob'])
// @ts-expect-error a unit row's actor is a person key
export const bare: UnitItemRow = { kind: 'bought', actor: 'bob', unit: '', item: 'p1' }
// @ts-expect-error a person key is made by userKey or anonymousKey only
export const forged: PersonKey = 'ubob'
