export { MemorySessionRegistry, memorySessionRegistry } from './memory-session-registry.js'
