import { errorCodesConformance } from '@mortar/core/testing'
import * as vitest from 'vitest'
import * as errors from './errors.js'
import * as api from './index.js'

errorCodesConformance(vitest, '@mortar/auth', {
  errorsFile: new URL('./errors.ts', import.meta.url),
  errors,
  api,
  readme: new URL('../README.md', import.meta.url),
  // HiddenResourceError keeps core's code on purpose: a hidden row must look like a missing one.
  inherited: ['E_NOT_FOUND'],
})
