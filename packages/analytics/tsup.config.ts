import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  splitting: true,
  sourcemap: true,
  platform: 'node',
  target: 'node22',
  removeNodeProtocol: false,
  // The dashboard finds chart.js from import.meta.url; the CJS build needs it shimmed.
  shims: true,
  swc: { jsc: { transform: { useDefineForClassFields: false } } },
  external: [
    /^@mortar\//,
    'tsyringe',
    'reflect-metadata',
    'zod',
    'kysely',
    'pg',
    'chart.js',
    'vitest',
    'fast-check',
  ],
})
