import type { FastifyInstance } from 'fastify'

/** `GET /health`: answers 200 while the process can serve requests. */
export async function healthRoutes(server: FastifyInstance): Promise<void> {
  server.get('/health', async () => ({ status: 'ok' }))
}
