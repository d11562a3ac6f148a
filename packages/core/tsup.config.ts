import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'http/fastify/index': 'src/http/fastify/index.ts',
    'http/hono/index': 'src/http/hono/index.ts',
    'http/node/index': 'src/http/node/index.ts',
    'http/express/index': 'src/http/express/index.ts',
    'testing/index': 'src/testing/index.ts',
    'cli/mortar': 'src/cli/mortar.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // Shared chunks in both formats: an adapter entry must see the same classes and context store as the main one.
  splitting: true,
  sourcemap: true,
  platform: 'node',
  target: 'node22',
  // tsup's own default strips `node:` and would emit `node:sqlite` as the missing package `sqlite`.
  removeNodeProtocol: false,
  // tsup's SWC step (used because emitDecoratorMetadata is on) ignores the tsconfig flag.
  swc: { jsc: { transform: { useDefineForClassFields: false } } },
  external: [
    'tsyringe',
    'reflect-metadata',
    'zod',
    'pino',
    'fastify',
    'hono',
    'express',
    'kysely',
    'pg',
    'mysql2',
    'ioredis',
    'bullmq',
    'vitest',
    'playwright-core',
    'vitest',
  ],
})
