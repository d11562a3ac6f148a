export { guardPage, htmlResponse, jsonResponse, problemResponse } from './fetch-handler.js'
export type { FetchHandler, PageGuard } from './fetch-handler.js'
