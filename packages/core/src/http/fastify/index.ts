export { mountFetch } from './mount-fetch.js'
export type { MortarFastifyOptions } from './mortar-fastify.js'
export { mortarFastify } from './mortar-fastify.js'
