export { Recommendations } from './recommendations.js'
export type { Recommendation, RecommendOptions } from './recommendations.js'
