// Fastify hello route: Mortar's adapter against bare Fastify. Goal: mortar/bare >= 0.95.
import { fileURLToPath, pathToFileURL } from 'node:url'
import { compare, formatRate, settings } from './measure.mjs'

const server = fileURLToPath(new URL('./http-fastify-server.mjs', import.meta.url))

/** Runs the bench and prints req/s of each variant and their ratio. */
export async function run() {
  console.log(
    `http-fastify: GET / -> {"hello":"world"}, ${settings.connections} connections, ` +
      `${settings.rounds} rounds x ${settings.durationSeconds} s after a ${settings.warmupSeconds} s warm-up`,
  )
  const { bare, loaded, mortar } = await compare([
    { name: 'bare', script: server, args: ['bare'] },
    { name: 'loaded', script: server, args: ['loaded'] },
    { name: 'mortar', script: server, args: ['mortar'] },
  ])
  const line = (label, variant) =>
    console.log(
      `  ${label.padEnd(24)} ${formatRate(variant.rate).padStart(14)}   ` +
        `${variant.cpuPerRequest.toFixed(1)} µs CPU/request   (rounds: ${variant.rates.map(formatRate).join(', ')})`,
    )
  line('bare fastify', bare)
  line('fastify, core loaded', loaded)
  line('fastify + mortar adapter', mortar)
  const ratio = mortar.rate / bare.rate
  // Requests a saturated server could serve, from its CPU per request: steadier on a busy machine.
  const cpuRatio = bare.cpuPerRequest / mortar.cpuPerRequest
  const adapterRatio = mortar.rate / loaded.rate
  console.log(
    `  ratio mortar/bare        ${ratio.toFixed(3)} by req/s, ${cpuRatio.toFixed(3)} by CPU per request (goal >= 0.95)`,
  )
  console.log(`  ratio mortar/loaded      ${adapterRatio.toFixed(3)} by req/s (the adapter alone)`)
  return {
    bench: 'http-fastify',
    bare: bare.rate,
    mortar: mortar.rate,
    ratio,
    cpuRatio,
    adapterRatio,
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
