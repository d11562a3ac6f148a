/**
 * The part of the browser's `window` the storefront's script uses. Declared here rather than
 * taken from TypeScript's DOM library, which would change the types of the whole program.
 */
interface BrowserWindow {
  readonly document: {
    readonly body: { readonly dataset: Readonly<Record<string, string | undefined>> }
    readonly visibilityState: string
    addEventListener(
      type: 'submit',
      listener: (event: {
        readonly target: { readonly dataset?: Readonly<Record<string, string | undefined>> } | null
        preventDefault(): void
      }) => void,
    ): void
  }
  readonly location: { readonly pathname: string }
  readonly crypto: { randomUUID(): string }
  readonly navigator: { sendBeacon?(url: string, data: unknown): boolean }
  readonly Blob: new (parts: string[], options: { type: string }) => unknown
  addEventListener(type: string, listener: () => void, options?: { passive: boolean }): void
  fetch(
    url: string,
    init: { method: string; headers: Record<string, string>; body: string; keepalive: boolean },
  ): Promise<unknown>
  setInterval(callback: () => void, ms: number): unknown
  confirm(question: string): boolean
}

/**
 * The storefront's one script, served at `/store/assets/shop.js`. It is written here as a
 * function so the compiler checks it, and served as its source text: no bundler involved.
 *
 * While a page is visible and the visitor has been active in the last 30 seconds, it sends a
 * heartbeat every 10 seconds to `POST /store/heartbeat`, and a last one when the page is left
 * (`sendBeacon`); the server turns them into engaged time per page (dwell). It also asks before
 * a form marked `data-confirm` is sent.
 */
function storefront(win: BrowserWindow): void {
  const INTERVAL_MS = 10_000
  const IDLE_MS = 30_000
  const page = win.document.body.dataset.page ?? win.location.pathname
  const pageViewId = win.crypto.randomUUID()
  let lastActivity = Date.now()
  let engagedSince = Date.now()

  for (const type of ['mousemove', 'keydown', 'scroll', 'touchstart', 'click']) {
    win.addEventListener(
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
    if (final && win.navigator.sendBeacon !== undefined) {
      win.navigator.sendBeacon(
        '/store/heartbeat',
        new win.Blob([body], { type: 'application/json' }),
      )
      return
    }
    win
      .fetch('/store/heartbeat', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        keepalive: true,
      })
      .catch(() => undefined)
  }

  win.setInterval(() => {
    const engaged =
      win.document.visibilityState === 'visible' && Date.now() - lastActivity < IDLE_MS
    if (engaged) beat(false)
    else engagedSince = Date.now()
  }, INTERVAL_MS)
  win.addEventListener('pagehide', () => beat(true))

  win.document.addEventListener('submit', (event) => {
    const question = event.target?.dataset?.confirm
    if (question !== undefined && !win.confirm(question)) event.preventDefault()
  })
}

/** The script's text, as served. */
export const STOREFRONT_SCRIPT = `(${storefront.toString()})(window)\n`
