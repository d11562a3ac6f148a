export { processGlobal } from './process-global.js'
