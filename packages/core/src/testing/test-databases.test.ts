import { once } from 'node:events'
import { createServer, type Socket, connect } from 'node:net'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { deleteRedisKeys, privateRedis, privateRedisPrefix } from './test-databases.js'

const url = process.env.MORTAR_TEST_REDIS_URL
const skip = url ? undefined : 'MORTAR_TEST_REDIS_URL is unset'
if (skip) console.warn(`[@mortar/core] test Redis helper tests skipped: ${skip}`)

describe('deleteRedisKeys', () => {
  it('refuses an empty prefix, which would delete every key', async () => {
    await expect(deleteRedisKeys('redis://127.0.0.1:1', '')).rejects.toThrow(TypeError)
  })

  // Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it.
  it.skipIf(skip !== undefined)(
    'takes the prefix literally: its glob characters delete no other key',
    async () => {
      // `a*` matched `ab` too: a prefix holding `*`, `?` or `[` deleted keys not under it.
      const base = privateRedisPrefix()
      const client = new Redis(url as string)
      try {
        const mine = [`${base}a*[x]?\\:1`, `${base}a*[x]?\\:2`]
        const others = [`${base}ab`, `${base}a*x?\\:1`, `${base}a*[x]z\\:1`, `${base}a*[x]?:1`]
        for (const key of [...mine, ...others]) await client.set(key, '1')
        expect(await deleteRedisKeys(url as string, `${base}a*[x]?\\`)).toBe(2)
        expect(await client.exists(...mine)).toBe(0)
        expect(await client.exists(...others)).toBe(others.length)
        expect(await deleteRedisKeys(url as string, base)).toBe(others.length)
      } finally {
        await client.quit()
      }
    },
  )
})

describe('privateRedis', () => {
  it.skipIf(skip !== undefined)(
    'deletes its keys on dispose through its own connection, opening no other',
    async () => {
      // Every connection to Redis goes through this proxy, which counts them.
      const target = new URL(url as string)
      let connections = 0
      const sockets = new Set<Socket>()
      const proxy = createServer((socket) => {
        connections++
        const upstream = connect(Number(target.port || 6379), target.hostname)
        sockets.add(socket).add(upstream)
        socket.pipe(upstream).pipe(socket)
        socket.on('error', () => upstream.destroy())
        upstream.on('error', () => socket.destroy())
      })
      proxy.listen(0, '127.0.0.1')
      await once(proxy, 'listening')
      const address = proxy.address()
      if (address === null || typeof address === 'string') throw new Error('no proxy port')
      const through = new URL(url as string)
      through.hostname = '127.0.0.1'
      through.port = String(address.port)
      try {
        const redis = await privateRedis(through.toString())
        await redis.client.set(`${redis.prefix}k`, 'v')
        await redis.dispose()
        expect(connections).toBe(1)
        const check = new Redis(url as string)
        expect(await check.exists(`${redis.prefix}k`)).toBe(0)
        await check.quit()
      } finally {
        for (const socket of sockets) socket.destroy()
        proxy.close()
      }
    },
  )
})
