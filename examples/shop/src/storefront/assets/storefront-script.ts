/// <reference lib="dom" />

/**
 * The storefront's one script, served at `/store/assets/shop.js`. It is written here as a
 * function so the compiler checks it, and served as its source text: no bundler involved.
 *
 * While a page is visible and the visitor has been active in the last 30 seconds, it sends a
 * heartbeat every 10 seconds to `POST /store/heartbeat`, and a last one when the page is left
 * (`sendBeacon`); the server turns them into engaged time per page (dwell). It also asks before
 * a form marked `data-confirm` is sent.
 */
function storefront(): void {
  const INTERVAL_MS = 10_000
  const IDLE_MS = 30_000
  const page = document.body.dataset.page ?? location.pathname
  const pageViewId = crypto.randomUUID()
  let lastActivity = Date.now()
  let engagedSince = Date.now()

  for (const type of ['mousemove', 'keydown', 'scroll', 'touchstart', 'click']) {
    addEventListener(
      type,
      () => {
        lastActivity = Date.now()
      },
      { passive: true },
    )
  }

  function beat(final: boolean): void {
    const seconds = Math.round((Date.now() - engagedSince) / 1000)
    engagedSince = Date.now()
    if (seconds <= 0) return
    const body = JSON.stringify({ page, pageViewId, seconds })
    if (final && navigator.sendBeacon) {
      navigator.sendBeacon('/store/heartbeat', new Blob([body], { type: 'application/json' }))
      return
    }
    void fetch('/store/heartbeat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      keepalive: true,
    }).catch(() => undefined)
  }

  setInterval(() => {
    const engaged = document.visibilityState === 'visible' && Date.now() - lastActivity < IDLE_MS
    if (engaged) beat(false)
    else engagedSince = Date.now()
  }, INTERVAL_MS)
  addEventListener('pagehide', () => beat(true))

  document.addEventListener('submit', (event) => {
    const form = event.target
    if (!(form instanceof HTMLFormElement)) return
    const question = form.dataset.confirm
    if (question !== undefined && !confirm(question)) event.preventDefault()
  })
}

/** The script's text, as served. */
export const STOREFRONT_SCRIPT = `(${storefront.toString()})()\n`
