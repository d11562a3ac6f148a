export { FakeClock } from '../clock/fake-clock.js'
export type { ErrorCodesConformanceOptions } from './error-codes-conformance.js'
export { errorCodesConformance } from './error-codes-conformance.js'
export type { CreateTestAppOptions, TestApp } from './create-test-app.js'
export { createTestApp } from './create-test-app.js'
export type { EngineApp } from './start-engine-app.js'
export { startEngineApp } from './start-engine-app.js'
export type { PrivateDatabaseUrl, PrivateRedis, TestEngine } from './test-databases.js'
export {
  deleteRedisKeys,
  privateDatabaseUrl,
  privateRedis,
  privateRedisPrefix,
  testEngines,
} from './test-databases.js'
export type { LaunchTestBrowserOptions, TestBrowser } from './launch-test-browser.js'
export { launchTestBrowser } from './launch-test-browser.js'
export type { FastifyRoutesLike, HonoRoutesLike, RouteEntry } from './list-routes.js'
export { listRoutes } from './list-routes.js'
export { snapshotTables } from './snapshot-tables.js'
export type {
  FuzzAnswer,
  FuzzFailure,
  FuzzReport,
  FuzzRequest,
  FuzzRoutesOptions,
} from './fuzz-routes.js'
export { fuzzRoutes } from './fuzz-routes.js'
export type {
  QueueConformanceCase,
  QueueConformanceOptions,
  QueueSubject,
} from './queue-conformance.js'
export {
  failingQueueConformanceCases,
  queueConformance,
  queueConformanceCases,
} from './queue-conformance.js'
export type { VitestApi } from './vitest-api.js'
export { TestCookies } from './test-cookies.js'
