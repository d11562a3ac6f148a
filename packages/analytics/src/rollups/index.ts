export { rollupPlan } from './rollup-config.js'
export type {
  ArrayKey,
  CountsConfig,
  ItemKind,
  ItemSource,
  RecommendationsConfig,
  RollupPlan,
} from './rollup-config.js'
export { Rollups } from './rollups.js'
export type { RollupReport } from './rollups.js'
