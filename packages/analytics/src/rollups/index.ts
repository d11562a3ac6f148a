export { rollupPlan } from './rollup-config.js'
export type {
  ArrayKey,
  CountsConfig,
  ItemKind,
  ItemSource,
  RecommendationsConfig,
  RollupPlan,
} from './rollup-config.js'
export { purgeUnitsBefore, Rollups } from './rollups.js'
export type { RollupReport } from './rollups.js'
