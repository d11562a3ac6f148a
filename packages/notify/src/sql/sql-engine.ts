import { engineOf } from '@mortar/core'

// One engine detection for every package: core's (it survives two kysely copies).
export type { DatabaseEngine as SqlEngine } from '@mortar/core'
export const sqlEngine = engineOf
