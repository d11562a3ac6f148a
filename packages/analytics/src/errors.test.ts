import { errorCodesConformance } from '@mortar/core/testing'
import * as vitest from 'vitest'
import * as errors from './errors.js'
import * as api from './index.js'

errorCodesConformance(vitest, '@mortar/analytics', {
  errorsFile: new URL('./errors.ts', import.meta.url),
  errors,
  api,
  readme: new URL('../README.md', import.meta.url),
})
