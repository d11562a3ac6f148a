import { fileURLToPath } from 'node:url'
import swc from 'unplugin-swc'
import { defineConfig } from 'vitest/config'

// Tests compile through SWC exactly as tsup builds the packages, so decorator metadata is real.
export default defineConfig({
  plugins: [
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: {
          legacyDecorator: true,
          decoratorMetadata: true,
          useDefineForClassFields: false,
        },
        target: 'es2022',
      },
    }),
  ],
  resolve: {
    // Tests run against the sources, so `npm test` needs no build and coverage maps to src.
    alias: [
      {
        find: /^@mortar\/core\/(fastify|hono|node|express)$/,
        replacement: fileURLToPath(
          new URL('./packages/core/src/http/$1/index.ts', import.meta.url),
        ),
      },
      {
        find: /^@mortar\/core\/testing$/,
        replacement: fileURLToPath(
          new URL('./packages/core/src/testing/index.ts', import.meta.url),
        ),
      },
      {
        find: /^@mortar\/(auth|session|notify|analytics)\/testing$/,
        replacement: fileURLToPath(new URL('./packages/$1/src/testing/index.ts', import.meta.url)),
      },
      {
        find: /^@mortar\/(auth|session|notify|analytics)$/,
        replacement: fileURLToPath(new URL('./packages/$1/src/index.ts', import.meta.url)),
      },
      {
        find: /^@mortar\/core$/,
        replacement: fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
    ],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
})
