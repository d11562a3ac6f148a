import type { App } from '../../app/app.js'

/** The part of an {@link App} the HTTP adapters use: a scope per request and the logger. */
export type AdapterApp = Pick<App<unknown>, 'createScope' | 'logger'>
