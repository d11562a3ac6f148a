// `node --import ./scripts/ts-loader.mjs program.ts`: runs the TypeScript sources in a child
// process the way the tests compile them (SWC, legacy decorators with metadata), for tests that
// need real processes (workers killed with SIGKILL, several workers on one queue).
import { register } from 'node:module'

register('./ts-loader-hooks.mjs', import.meta.url)
