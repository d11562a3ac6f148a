/**
 * `work`, or the error `expired()` makes if `ms` pass before it settles. The work itself goes
 * on: what it does after is the caller's to handle (a rejection after the deadline is handled
 * here, never unhandled). The timer is unref'd: it keeps no process alive by itself.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(expired()), ms)
    timer.unref()
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
