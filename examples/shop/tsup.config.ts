import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { main: 'src/main.ts', worker: 'src/worker.ts', index: 'src/index.ts' },
  format: ['esm'],
  clean: true,
  sourcemap: true,
  platform: 'node',
  target: 'node22',
  removeNodeProtocol: false,
  swc: { jsc: { transform: { useDefineForClassFields: false } } },
  // The app runs against the installed packages, as a copy of this example would.
  external: [/^@mortar\//, 'fastify', 'tsyringe', 'reflect-metadata', 'zod', 'pino', 'kysely'],
})
