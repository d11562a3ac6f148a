export { htmlErrorPages } from './error-pages.js'
export { acceptForms, parseForms } from './form-support.js'
export { setSecurityHeaders } from './security-headers.js'
export { keepOutOfCaches } from './no-store.js'
export { escapeHtml, Html, html, unsafeHtml } from './html.js'
export { csrfField, layout, type PageChrome } from './layout.js'
export { notificationPreferencesSection } from './notification-pages.js'
export { orderDetails } from './order-pages.js'
export {
  flash,
  isLocalPath,
  page,
  pageChrome,
  type StorefrontOptions,
  seeOther,
  sendHtml,
} from './page.js'
export { type StorefrontRoutesOptions, storefrontRoutes } from './storefront-routes.js'
export { money, when } from './format.js'
