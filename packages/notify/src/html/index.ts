export { escapeHtml, html, SafeHtml, unsafeHtml } from './html.js'
