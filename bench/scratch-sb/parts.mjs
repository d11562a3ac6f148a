import { Redis } from 'ioredis'
import { sealData, unsealData } from 'iron-session'
const PASSWORD = 'bench-0123456789abcdef0123456789abcdef'
const N = Number(process.env.N ?? 2000)
const redis = new Redis('redis://127.0.0.1:6379')
const redisAP = new Redis('redis://127.0.0.1:6379', { enableAutoPipelining: true })
const key = `sb-diag-${process.pid}`
await redis.hset(key, 'userId', 'user-1', 'createdAt', '1700000000000', 'lastSeenAt', '1700000000000', 'ip', '127.0.0.1', 'userAgent', 'Mozilla/5.0 bench')
await redis.set(`${key}:s`, 'user-1|1700000000000|1700000000000')
let cookie = await sealData({ visits: 0, cart: ['sku-1'] }, { password: PASSWORD })
const variants = {
  sealUnseal: async () => { const d = await unsealData(cookie, { password: PASSWORD }); d.visits++; cookie = await sealData(d, { password: PASSWORD }) },
  hgetall: () => redis.hgetall(key),
  hmget3: () => redis.hmget(key, 'userId', 'createdAt', 'lastSeenAt'),
  get: () => redis.get(`${key}:s`),
  hgetallAP: () => redisAP.hgetall(key),
  sealUnsealPlusHgetall: async () => { const p = redis.hgetall(key); const d = await unsealData(cookie, { password: PASSWORD }); await p; d.visits++; cookie = await sealData(d, { password: PASSWORD }) },
  sealUnsealPlusGet: async () => { const p = redis.get(`${key}:s`); const d = await unsealData(cookie, { password: PASSWORD }); await p; d.visits++; cookie = await sealData(d, { password: PASSWORD }) },
}
const res = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
for (let r = 0; r < 7; r++) {
  for (const [name, fn] of Object.entries(variants)) {
    const c = process.cpuUsage(); const t = performance.now()
    for (let i = 0; i < N / 7; i++) await fn()
    const u = process.cpuUsage(c)
    res[name].push([((performance.now() - t) * 1000) / (N / 7), (u.user + u.system) / (N / 7)])
  }
}
for (const [name, xs] of Object.entries(res)) {
  const w = xs.map((x) => x[0]).sort((a, b) => a - b)[3], c = xs.map((x) => x[1]).sort((a, b) => a - b)[3]
  console.log(name.padEnd(24), 'wall', w.toFixed(0), 'cpu', c.toFixed(0))
}
await redis.del(key, `${key}:s`); redis.disconnect(); redisAP.disconnect()
