// Runs every bench in turn. Add a bench by appending its module: it exports `run()`.
const benches = [
  './http-fastify.mjs',
  './keyset.mjs',
  './transactional.mjs',
  './session.mjs',
  './policy.mjs',
  './jobs.mjs',
  './jobs-bullmq.mjs',
  './notify.mjs',
  './analytics.mjs',
  './shop.mjs',
]

for (const bench of benches) {
  const { run } = await import(bench)
  await run()
  console.log()
}
