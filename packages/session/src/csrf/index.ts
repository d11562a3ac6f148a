export type { CsrfOptions } from './csrf-options.js'
export { csrfToken } from './csrf-token.js'
export { verifyCsrfForm } from './verify-csrf-form.js'
