export { MemorySessionRegistry, memorySessionRegistry } from './memory-session-registry.js'
export type { MemorySessionRegistryOptions } from './memory-session-registry.js'
