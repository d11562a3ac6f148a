// Fastify hello route: Mortar's adapter against bare Fastify. Goal: mortar/bare >= 0.95.
import { fileURLToPath, pathToFileURL } from 'node:url'
import { compare, formatRate, settings } from './measure.mjs'

const server = fileURLToPath(new URL('./http-fastify-server.mjs', import.meta.url))

/** Runs the bench and prints req/s of each variant and their ratios to bare Fastify. */
export async function run() {
  console.log(
    `http-fastify: GET / -> {"hello":"world"}, ${settings.connections} connections, ` +
      `${settings.rounds} rounds x ${settings.durationSeconds} s after a ${settings.warmupSeconds} s warm-up`,
  )
  const { bare, loaded, byhand, mortar } = await compare([
    { name: 'bare', script: server, args: ['bare'] },
    { name: 'loaded', script: server, args: ['loaded'] },
    { name: 'byhand', script: server, args: ['byhand'] },
    { name: 'mortar', script: server, args: ['mortar'] },
  ])
  const line = (label, variant) =>
    console.log(
      `  ${label.padEnd(30)} ${formatRate(variant.rate).padStart(14)}   ` +
        `${variant.cpuPerRequest.toFixed(1)} µs CPU/request   ` +
        `${variant.ratioToFirst.toFixed(3)} of bare (median of per-round ratios)`,
    )
  line('bare fastify', bare)
  line('fastify, core loaded', loaded)
  line('fastify + the same by hand', byhand)
  line('fastify + mortar adapter', mortar)
  const ratio = mortar.ratioToFirst
  // Requests a saturated server could serve, from its CPU per request: steadier on a busy machine.
  const cpuRatio = bare.cpuPerRequest / mortar.cpuPerRequest
  console.log(
    `  ratio mortar/bare              ${ratio.toFixed(3)} by req/s, ${cpuRatio.toFixed(3)} by CPU per request (goal >= 0.95)`,
  )
  console.log(
    `  ratio mortar/by hand           ${(mortar.rate / byhand.rate).toFixed(3)} by mean req/s`,
  )
  return {
    bench: 'http-fastify',
    bare: bare.rate,
    mortar: mortar.rate,
    ratio,
    cpuRatio,
    byHandRatio: mortar.rate / byhand.rate,
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
