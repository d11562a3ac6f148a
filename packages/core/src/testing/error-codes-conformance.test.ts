import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MortarError } from '../errors/mortar-error.js'
import { errorCodesConformance } from './error-codes-conformance.js'

class WidgetLostError extends MortarError {}

// Runs the kit's checks here, by title, instead of registering them with vitest.
function kitChecks(files: { source: string; readme: string }, api: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'mortar-error-codes-'))
  writeFileSync(join(dir, 'errors.ts'), files.source)
  writeFileSync(join(dir, 'README.md'), files.readme)
  const checks = new Map<string, () => void>()
  errorCodesConformance(
    {
      describe: ((_title: string, body: () => void) => body()) as never,
      it: ((title: string, check: () => void) => checks.set(title, check)) as never,
      expect,
    },
    'widgets',
    {
      errorsFile: pathToFileURL(join(dir, 'errors.ts')),
      readme: pathToFileURL(join(dir, 'README.md')),
      errors: { WidgetLostError },
      api,
      inherited: ['E_NOT_FOUND'],
    },
  )
  return [...checks.values()]
}

const source = "export class WidgetLostError { code = 'E_WIDGET_LOST' }\n"

describe('errorCodesConformance', () => {
  it('passes a package whose README lists its codes (and inherited ones) and whose API exports its errors', () => {
    const [codes, exported] = kitChecks(
      { source, readme: '| `E_WIDGET_LOST` | 404 |\n| `E_NOT_FOUND` | 404 |\n' },
      { WidgetLostError },
    )
    expect(codes).not.toThrow()
    expect(exported).not.toThrow()
  })

  it('fails a README that leaves a code out or lists one the package does not have', () => {
    const [missing] = kitChecks({ source, readme: '| `E_NOT_FOUND` | 404 |\n' }, {})
    expect(missing).toThrow()
    const [extra] = kitChecks(
      { source, readme: '| `E_WIDGET_LOST` | 404 |\n| `E_WIDGET_GONE` | 410 |\n' },
      {},
    )
    expect(extra).toThrow()
  })

  it('fails an error class the package does not export', () => {
    const [, exported] = kitChecks({ source, readme: '| `E_WIDGET_LOST` | 404 |\n' }, {})
    expect(exported).toThrow(/WidgetLostError is not exported/)
  })
})
