// The child side of measure.mjs: tells the bench its port, reports its CPU time on request, and
// stops on SIGTERM.

/** Announces that the server listens on `port`; `close` stops it on SIGTERM. */
export function ready(port, close) {
  process.on('message', (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() })
  })
  process.once('SIGTERM', () => {
    Promise.resolve(close()).then(() => process.exit(0))
  })
  process.send({ port })
}
