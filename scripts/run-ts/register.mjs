// `node --import ./scripts/run-ts/register.mjs child.ts`: see hooks.mjs.
import { register } from 'node:module'

register('./hooks.mjs', import.meta.url)
