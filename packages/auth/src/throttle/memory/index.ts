export { MemoryThrottleStore } from './memory-throttle-store.js'
