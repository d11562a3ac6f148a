export { InlineQueue } from './inline-queue.js'
