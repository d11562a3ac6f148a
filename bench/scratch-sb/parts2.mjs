import { Redis } from 'ioredis'
import { sealData, unsealData } from 'iron-session'
const PASSWORD = 'bench-0123456789abcdef0123456789abcdef'
const N = Number(process.env.N ?? 3000)
const redis = new Redis('redis://127.0.0.1:6379')
const key = `sb-diag-${process.pid}`
await redis.hset(key, 'userId', 'user-1', 'createdAt', '1700000000000', 'lastSeenAt', '1700000000000', 'ip', '127.0.0.1', 'userAgent', 'Mozilla/5.0 bench')
await redis.set(`${key}:s`, 'user-1|1700000000000|1700000000000')
let cookie = await sealData({ visits: 0, cart: ['sku-1'] }, { password: PASSWORD })
const open = () => unsealData(cookie, { password: PASSWORD })
const close = async (d) => { d.visits++; cookie = await sealData(d, { password: PASSWORD }) }
const variants = {
  base: async () => close(await open()),
  overlapBefore: async () => { const p = redis.hgetall(key); const d = await open(); await p; await close(d) },
  overlapAfter: async () => { const o = open(); const p = redis.hgetall(key); const d = await o; await p; await close(d) },
  seqBefore: async () => { await redis.hgetall(key); await close(await open()) },
  seqAfter: async () => { const d = await open(); await redis.hgetall(key); await close(d) },
  overlapSeal: async () => { const d = await open(); const p = redis.hgetall(key); await close(d); await p },
}
const names = Object.keys(variants)
const sums = Object.fromEntries(names.map((k) => [k, [0, 0]]))
for (let i = 0; i < N; i++) {
  const order = i % 2 ? names : [...names].reverse()
  for (const name of order) {
    const c = process.cpuUsage(); const t = performance.now()
    await variants[name]()
    const u = process.cpuUsage(c)
    sums[name][0] += (performance.now() - t) * 1000; sums[name][1] += u.user + u.system
  }
}
for (const name of names) console.log(name.padEnd(16), 'wall', (sums[name][0] / N).toFixed(0), 'cpu', (sums[name][1] / N).toFixed(0))
await redis.del(key, `${key}:s`); redis.disconnect()
