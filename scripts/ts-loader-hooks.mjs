// Module hooks for ts-loader.mjs: `.js` specifiers that name a `.ts` source resolve to it, and
// `.ts` files are compiled by SWC with the options of vitest.config.ts.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { transform } from '@swc/core'

const root = new URL('../', import.meta.url)
const aliases = {
  '@mortar/core': 'packages/core/src/index.ts',
  '@mortar/core/testing': 'packages/core/src/testing/index.ts',
}

export async function resolve(specifier, context, next) {
  const alias = aliases[specifier]
  if (alias !== undefined) return { url: new URL(alias, root).href, shortCircuit: true }
  if (
    specifier.startsWith('.') &&
    specifier.endsWith('.js') &&
    context.parentURL?.endsWith('.ts')
  ) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL)
    if (existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true }
  }
  return next(specifier, context)
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context)
  const source = await readFile(fileURLToPath(url), 'utf8')
  const { code } = await transform(source, {
    filename: fileURLToPath(url),
    sourceMaps: 'inline',
    module: { type: 'es6' },
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
    },
  })
  return { format: 'module', source: code, shortCircuit: true }
}
