// The request comparison's deliveries, run in a process of their own (BENCH_NOTIFY_DELIVERY=
// separate): the same app with workers, on the database given as the only argument.
import { requestApp } from './notify.mjs'
import { ready } from './serve-child.mjs'

const app = requestApp(process.argv[2], true)
await app.start()
ready(0, () => app.stop())
