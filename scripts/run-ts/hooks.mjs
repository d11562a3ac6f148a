// Module hooks that run the workspace's TypeScript sources in a child process the way the tests
// compile them (SWC, legacy decorators with metadata) and resolve `@mortar/*` to the sources,
// as vitest's aliases do. For tests that need a real process: a SIGTERM, a crash, a worker.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { transformSync } from '@swc/core'

const root = new URL('../../', import.meta.url)
const ADAPTERS = new Set(['fastify', 'hono', 'node', 'express'])

export async function resolve(specifier, context, next) {
  const mortar = /^@mortar\/(core|auth|session|notify|analytics)(?:\/([a-z-]+))?$/.exec(specifier)
  if (mortar) {
    const [, name, sub] = mortar
    const path =
      sub === undefined
        ? `packages/${name}/src/index.ts`
        : name === 'core' && ADAPTERS.has(sub)
          ? `packages/core/src/http/${sub}/index.ts`
          : `packages/${name}/src/${sub}/index.ts`
    return { url: new URL(path, root).href, shortCircuit: true }
  }
  if (
    specifier.startsWith('.') &&
    specifier.endsWith('.js') &&
    context.parentURL?.endsWith('.ts')
  ) {
    const source = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL)
    if (existsSync(fileURLToPath(source))) return { url: source.href, shortCircuit: true }
  }
  return next(specifier, context)
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context)
  const filename = fileURLToPath(url)
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
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
