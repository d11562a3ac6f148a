import { packageConfig } from '../../tsup.preset'

export default packageConfig({
  entry: {
    index: 'src/index.ts',
    'http/fastify/index': 'src/http/fastify/index.ts',
    'http/hono/index': 'src/http/hono/index.ts',
    'http/node/index': 'src/http/node/index.ts',
    'http/express/index': 'src/http/express/index.ts',
    'testing/index': 'src/testing/index.ts',
    'cli/mortar': 'src/cli/mortar.ts',
  },
  external: [
    'pino',
    'fastify',
    'hono',
    'express',
    'pg',
    'mysql2',
    'ioredis',
    'bullmq',
    'vitest',
    'playwright-core',
  ],
})
