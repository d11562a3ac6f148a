export { stopOnSignals } from './stop-on-signals.js'
