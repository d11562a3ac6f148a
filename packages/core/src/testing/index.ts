export { FakeClock } from '../clock/fake-clock.js'
export type { CreateTestAppOptions, TestApp } from './create-test-app.js'
export { createTestApp } from './create-test-app.js'
