import { createApp, requestContext } from '@mortar/core'
import { mortarFastify } from '@mortar/core/fastify'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { csrfToken } from '../csrf/csrf-token.js'
import { verifyCsrfForm } from '../csrf/verify-csrf-form.js'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { sessionModule } from './session-module.js'

declare module '@mortar/core' {
  interface Principal {
    id?: string
  }
}

// A few hundred over real Fastify requests; session-codec.test.ts runs the 10,000.
const HTTP_RUNS = Math.max(300, Math.floor(Number(process.env.MORTAR_FUZZ_RUNS ?? 0) / 20))
const KEY = 'http-0123456789abcdef0123456789abcdef'
const schema = z.object({ role: z.enum(['customer', 'admin']).default('customer') })

const sessions = sessionModule({
  cookieName: 'test.session',
  password: KEY,
  schema,
  development: true,
  registry: new MemorySessionRegistry(),
  csrf: { formField: '_csrf' },
  resolvePrincipal: (data, { userId }) => (userId ? { id: `${userId}/${data.role}` } : undefined),
})
const app = createApp({ modules: [sessions], logger: silentLogger() })
let fastify: FastifyInstance

beforeAll(async () => {
  await app.start()
  fastify = Fastify()
  await fastify.register(mortarFastify, { app })
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  )
  fastify.addHook('preHandler', async (request) => {
    await verifyCsrfForm(request.body)
  })
  fastify.post('/login', async () => {
    await sessions.current().login('user-1')
    return { ok: true }
  })
  fastify.post('/promote', async () => {
    sessions.current().data.role = 'admin'
    await sessions.current().save()
    return { ok: true }
  })
  fastify.get('/me', async () => ({
    principal: requestContext().get('principal') ?? null,
    role: sessions.current().data.role,
    token: csrfToken(),
  }))
  fastify.post('/transfer', async () => ({ principal: requestContext().get('principal') ?? null }))
  await fastify.ready()
})

afterAll(async () => {
  await fastify.close()
  await app.stop()
})

function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie.at(-1) : setCookie
  return (header ?? '').split(';')[0] ?? ''
}

async function loggedIn(): Promise<{ cookie: string; token: string }> {
  const login = await fastify.inject({ method: 'POST', url: '/login' })
  const cookie = cookieOf(login.headers['set-cookie'])
  const me = await fastify.inject({ method: 'GET', url: '/me', headers: { cookie } })
  return { cookie, token: me.json().token }
}

/**
 * A seal as iron reads it: the `~2` suffix is ignored and the final HMAC is decoded to bytes, so
 * a last base64url character that differs only in padding bits is the same seal.
 */
function sealBytes(value: string): string {
  const [seal = ''] = value.split('~')
  const at = seal.lastIndexOf('*')
  return seal.slice(0, at + 1) + Buffer.from(seal.slice(at + 1), 'base64url').toString('hex')
}

describe('sessions over Fastify', () => {
  it('loads the session and fills the principal before the handler', async () => {
    const { cookie } = await loggedIn()
    // A registered session's cookie names its id in clear, so the registry lookup can start early.
    expect(cookie).toMatch(/^test\.session=[A-Za-z0-9_-]{22}\.Fe26\.2\*1\*/)
    const me = await fastify.inject({ method: 'GET', url: '/me', headers: { cookie } })
    expect(me.json()).toMatchObject({ principal: { id: 'user-1/customer' }, role: 'customer' })
  })

  it(`answers ${HTTP_RUNS} tampered, truncated and random cookies with an anonymous session, never a 500`, async () => {
    const { cookie } = await loggedIn()
    const sealed = cookie.slice('test.session='.length)
    const mangled = fc.oneof(
      fc.tuple(fc.nat(), fc.constantFrom(...'AZaz09-_*.~')).map(([at, char]) => {
        const index = at % sealed.length
        return sealed.slice(0, index) + char + sealed.slice(index + 1)
      }),
      fc.nat().map((at) => sealed.slice(0, at % sealed.length)),
      fc.string({ maxLength: 200 }).map((noise) => encodeURIComponent(noise)),
      fc.string({ minLength: 4097, maxLength: 6000, unit: fc.constantFrom('A', 'b', '*') }),
    )
    await fc.assert(
      fc.asyncProperty(mangled, async (value) => {
        const response = await fastify.inject({
          method: 'GET',
          url: '/me',
          headers: { cookie: `test.session=${value}` },
        })
        expect(response.statusCode).toBe(200)
        const body = response.json()
        // The only way to be user-1 is the genuine seal (iron ignores its `~2` suffix).
        if (body.principal !== null) expect(sealBytes(value)).toBe(sealBytes(sealed))
        expect(body.role).toBe('customer')
      }),
      { numRuns: HTTP_RUNS },
    )
  })
})

describe('a repeated session cookie over Fastify', () => {
  it('answers two sessions under one name with a 400 problem, and junk beside the genuine one with the session', async () => {
    const first = await loggedIn()
    const second = await loggedIn()
    const both = await fastify.inject({
      method: 'GET',
      url: '/me',
      headers: { cookie: `${first.cookie}; ${second.cookie}` },
    })
    expect(both.statusCode).toBe(400)
    expect(both.headers['content-type']).toContain('application/problem+json')
    expect(both.json()).toMatchObject({ code: 'E_SESSION_COOKIE_CONFLICT' })
    expect(both.headers['set-cookie']).toBeUndefined()
    const junk = await fastify.inject({
      method: 'GET',
      url: '/me',
      headers: { cookie: `test.session=caf\u00e9; ${first.cookie}` },
    })
    expect(junk.statusCode).toBe(200)
    expect(junk.json()).toMatchObject({ principal: { id: 'user-1/customer' } })
    expect(junk.headers['set-cookie']).toBeUndefined()
  })
})

describe('CSRF guard over Fastify', () => {
  it('lets a same-origin request through and refuses a cross-site one with a 403 problem', async () => {
    const { cookie } = await loggedIn()
    const same = await fastify.inject({
      method: 'POST',
      url: '/transfer',
      headers: { cookie, origin: 'http://localhost:80', host: 'localhost:80' },
    })
    expect(same.statusCode).toBe(200)
    const cross = await fastify.inject({
      method: 'POST',
      url: '/transfer',
      headers: { cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    })
    expect(cross.statusCode).toBe(403)
    expect(cross.headers['content-type']).toContain('application/problem+json')
    expect(cross.json()).toMatchObject({ code: 'E_CSRF_REJECTED', reason: 'cross-site' })
  })

  it('accepts the token in the x-csrf-token header when no origin header is sent', async () => {
    const { cookie, token } = await loggedIn()
    const good = await fastify.inject({
      method: 'POST',
      url: '/transfer',
      headers: { cookie, 'x-csrf-token': token },
    })
    expect(good.statusCode).toBe(200)
    expect(good.json().principal).toEqual({ id: 'user-1/customer' })
    const bad = await fastify.inject({
      method: 'POST',
      url: '/transfer',
      headers: { cookie, 'x-csrf-token': `${token.slice(1)}x` },
    })
    expect(bad.json()).toMatchObject({ status: 403, reason: 'bad-token' })
  })

  it('checks the _csrf form field through verifyCsrfForm, and fails closed without it', async () => {
    const { cookie, token } = await loggedIn()
    const form = 'application/x-www-form-urlencoded'
    const good = await fastify.inject({
      method: 'POST',
      url: '/transfer',
      headers: { cookie, 'content-type': form },
      payload: `_csrf=${encodeURIComponent(token)}`,
    })
    expect(good.statusCode).toBe(200)
    expect(good.json().principal).toEqual({ id: 'user-1/customer' })
    const missing = await fastify.inject({
      method: 'POST',
      url: '/promote',
      headers: { cookie, 'content-type': form },
      payload: 'amount=1',
    })
    expect(missing.json()).toMatchObject({ status: 403, reason: 'missing-token' })
    const me = await fastify.inject({ method: 'GET', url: '/me', headers: { cookie } })
    expect(me.json().role).toBe('customer')
  })

  it('lets a request without a session cookie through (nothing to forge)', async () => {
    const response = await fastify.inject({
      method: 'POST',
      url: '/transfer',
      headers: { 'sec-fetch-site': 'cross-site' },
    })
    expect(response.statusCode).toBe(200)
  })
})

function silentLogger() {
  const noop = () => undefined
  const logger = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
    child: () => logger,
  }
  return logger
}
