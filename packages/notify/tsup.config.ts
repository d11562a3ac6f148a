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
  swc: { jsc: { transform: { useDefineForClassFields: false } } },
  external: [
    /^@mortar\//,
    'tsyringe',
    'reflect-metadata',
    'zod',
    'kysely',
    'nodemailer',
    'vitest',
    'fast-check',
  ],
})
