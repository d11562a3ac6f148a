import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { createApp } from '../app/create-app.js'
import { ForbiddenError } from '../errors/index.js'
import { mortarFastify } from '../http/fastify/index.js'
import { RequestContext, requestContext } from './request-context.js'
import { StartupError } from '../app/startup-error.js'
import {
  claimBeforeResponseHooks,
  hasBeforeResponseHooks,
  onBeforeResponse,
  onRequestStart,
  runBeforeResponseHooks,
  runRequestStartHooks,
} from './request-hooks.js'

declare module '@mortar/core' {
  interface ContextSlots {
    hookTrace: string[]
  }
}

const noScope = () => {
  throw new Error('no scope in this test')
}

describe('request start hooks', () => {
  it('is undefined (synchronous) for an app without hooks', () => {
    const context = new RequestContext({ createScope: noScope })
    expect(runRequestStartHooks({}, context)).toBeUndefined()
  })

  it('runs the hooks of that app in order, each awaited, and stops running removed ones', async () => {
    const app = {}
    const other = {}
    const context = new RequestContext({ createScope: noScope })
    context.set('hookTrace', [])
    onRequestStart(app, async (ctx) => {
      await new Promise((resolve) => setImmediate(resolve))
      ctx.get('hookTrace')?.push('first')
    })
    const remove = onRequestStart(app, (ctx) => {
      ctx.get('hookTrace')?.push('second')
    })
    onRequestStart(other, (ctx) => {
      ctx.get('hookTrace')?.push('other app')
    })
    await runRequestStartHooks(app, context)
    expect(context.get('hookTrace')).toEqual(['first', 'second'])
    remove()
    await runRequestStartHooks(app, context)
    expect(context.get('hookTrace')).toEqual(['first', 'second', 'first'])
  })

  it('runs before a Fastify handler, inside its context, and a throwing hook becomes a problem', async () => {
    const app = createApp({ modules: [] })
    onRequestStart(app, async (context) => {
      if (context.http?.header('x-deny') === 'yes') throw new ForbiddenError('Denied by a hook.')
      context.set('hookTrace', ['hook'])
    })
    const fastify = Fastify()
    await fastify.register(mortarFastify, { app })
    fastify.get('/', async () => requestContext().get('hookTrace'))
    const ok = await fastify.inject({ url: '/' })
    expect(ok.json()).toEqual(['hook'])
    const denied = await fastify.inject({ url: '/', headers: { 'x-deny': 'yes' } })
    expect(denied.statusCode).toBe(403)
    expect(denied.json()).toMatchObject({ code: 'E_FORBIDDEN' })
    await fastify.close()
  })
})

describe('before-response hooks', () => {
  it('are kept apart from request-start hooks and per app', () => {
    const app = {}
    onRequestStart(app, () => undefined)
    expect(hasBeforeResponseHooks(app)).toBe(false)
    expect(
      runBeforeResponseHooks(app, new RequestContext({ createScope: noScope })),
    ).toBeUndefined()
    const remove = onBeforeResponse(app, () => undefined)
    expect(hasBeforeResponseHooks(app)).toBe(true)
    expect(hasBeforeResponseHooks({})).toBe(false)
    remove()
    expect(hasBeforeResponseHooks(app)).toBe(false)
  })

  it('stay synchronous while the hooks are, and throw the error of a hook that throws', () => {
    const app = {}
    const context = new RequestContext({ createScope: noScope })
    context.set('hookTrace', [])
    onBeforeResponse(app, (ctx) => {
      ctx.get('hookTrace')?.push('first')
    })
    onBeforeResponse(app, (ctx) => {
      if (ctx.get('hookTrace')?.length === 2) throw new ForbiddenError('Second time refused.')
      ctx.get('hookTrace')?.push('second')
    })
    expect(runBeforeResponseHooks(app, context)).toBeUndefined()
    expect(context.get('hookTrace')).toEqual(['first', 'second'])
    context.set('hookTrace', ['x'])
    expect(() => runBeforeResponseHooks(app, context)).toThrow('Second time refused.')
  })

  it('continue in order after a hook returns a promise, and reject with a later hook error', async () => {
    const app = {}
    const context = new RequestContext({ createScope: noScope })
    context.set('hookTrace', [])
    onBeforeResponse(app, async (ctx) => {
      await new Promise((resolve) => setImmediate(resolve))
      ctx.get('hookTrace')?.push('async')
    })
    onBeforeResponse(app, (ctx) => {
      ctx.get('hookTrace')?.push('sync after')
      if (ctx.get('hookTrace')?.length === 3) throw new ForbiddenError('Refused after the await.')
    })
    const pending = runBeforeResponseHooks(app, context)
    expect(pending).toBeInstanceOf(Promise)
    expect(context.get('hookTrace')).toEqual([])
    await pending
    expect(context.get('hookTrace')).toEqual(['async', 'sync after'])
    context.set('hookTrace', ['x'])
    await expect(runBeforeResponseHooks(app, context)).rejects.toThrow('Refused after the await.')
  })

  it('are claimed by an adapter: with none at that point, adding one later is refused', () => {
    const withHooks = {}
    onBeforeResponse(withHooks, () => undefined)
    expect(claimBeforeResponseHooks(withHooks, 'testAdapter')).toBe(true)
    expect(() => onBeforeResponse(withHooks, () => undefined)).not.toThrow()

    const without = {}
    expect(claimBeforeResponseHooks(without, 'testAdapter')).toBe(false)
    const late = () => onBeforeResponse(without, () => undefined)
    expect(late).toThrow(StartupError)
    expect(late).toThrow(/added after testAdapter was registered/)
    expect(hasBeforeResponseHooks(without)).toBe(false)
  })
})
