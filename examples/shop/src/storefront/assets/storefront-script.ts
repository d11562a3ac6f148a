/**
 * The part of the browser's `window` the storefront's script uses. Declared here rather than
 * taken from TypeScript's DOM library, which would change the types of the whole program.
 */
interface BrowserWindow {
  readonly document: {
    addEventListener(
      type: 'submit',
      listener: (event: {
        readonly target: { readonly dataset?: Readonly<Record<string, string | undefined>> } | null
        preventDefault(): void
      }) => void,
    ): void
  }
  confirm(question: string): boolean
}

/**
 * The storefront's one script, served at `/store/assets/shop.js`. It is written here as a
 * function so the compiler checks it, and served as its source text: no bundler involved.
 * It asks before a form marked `data-confirm` is sent. (Engaged time is measured by
 * `@mortar/analytics`' own page script, which each tracked page loads.)
 */
function storefront(win: BrowserWindow): void {
  win.document.addEventListener('submit', (event) => {
    const question = event.target?.dataset?.confirm
    if (question !== undefined && !win.confirm(question)) event.preventDefault()
  })
}

/** The script's text, as served. */
export const STOREFRONT_SCRIPT = `(${storefront.toString()})(window)\n`
