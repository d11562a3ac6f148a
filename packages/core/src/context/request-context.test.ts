import { describe, expect, it, vi } from 'vitest'
import { ResolutionError } from '../di/resolution-error.js'
import { NoRequestContextError } from './no-request-context-error.js'
import {
  currentRequestContext,
  RequestContext,
  type RequestContextInit,
  requestContext,
} from './request-context.js'

const scope = () => ({ resolve: () => 'resolved' as never, dispose: async () => undefined })

describe('RequestContext', () => {
  it('reads the request facts from its init only when asked', () => {
    const ip = vi.fn(() => '10.0.0.7')
    const init = {
      requestId: 'req-1',
      get ip() {
        return ip()
      },
      userAgent: 'curl/8',
      acceptLanguage: 'fr-CH;q=0.9, en;q=0.8',
      createScope: scope,
    } satisfies RequestContextInit
    const context = new RequestContext(init)
    expect(ip).not.toHaveBeenCalled()
    expect(context.ip).toBe('10.0.0.7')
    expect(context.userAgent).toBe('curl/8')
    expect(context.locale).toBe('fr-CH')
    expect(context.requestId).toBe('req-1')
  })

  it('asks the adapter to watch the end of the request once, on the first signal or scope use', () => {
    const watchEnd = vi.fn()
    const untouched = new RequestContext({ createScope: scope, watchEnd })
    expect(untouched.requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(watchEnd).not.toHaveBeenCalled()

    const bySignal = new RequestContext({ createScope: scope, watchEnd })
    void bySignal.signal
    void bySignal.signal
    bySignal.resolve('key' as never)
    expect(watchEnd).toHaveBeenCalledTimes(1)
    expect(watchEnd).toHaveBeenCalledWith(bySignal)

    const byScope = new RequestContext({ createScope: scope, watchEnd })
    byScope.resolve('key' as never)
    expect(byScope.hasScope).toBe(true)
    expect(watchEnd).toHaveBeenCalledTimes(2)
  })

  it('makes no new scope after it was disposed: work left running refuses to resolve', async () => {
    const made = vi.fn(scope)
    const used = new RequestContext({ createScope: made })
    used.resolve('key' as never)
    await used.dispose()
    expect(used.hasScope).toBe(false)
    // The disposed scope is kept: its own resolve decides (the app's refuses).
    used.resolve('key' as never)
    expect(made).toHaveBeenCalledTimes(1)

    const unused = new RequestContext({ createScope: made })
    await unused.dispose()
    expect(() => unused.resolve('key' as never)).toThrow(ResolutionError)
    expect(made).toHaveBeenCalledTimes(1)
  })

  it('aborts a signal first read after the adapter reported the client gone', () => {
    const context = new RequestContext({ createScope: scope, watchEnd: (c) => c.abort() })
    expect(context.signal.aborted).toBe(true)
  })

  it("uses the framework's own signal without watching the end", () => {
    const watchEnd = vi.fn()
    const controller = new AbortController()
    const context = new RequestContext({
      createScope: scope,
      signal: controller.signal,
      watchEnd,
    })
    expect(context.signal).toBe(controller.signal)
    expect(watchEnd).not.toHaveBeenCalled()
  })

  it('throws the given error on every read of a withheld slot until it is released', () => {
    const context = new RequestContext({ createScope: scope })
    const refused = new Error('prove it first')
    context.set('principal', {})
    const release = context.withhold('principal', refused)
    expect(() => context.get('principal')).toThrow(refused)
    // Setting it meanwhile does not make it readable.
    context.set('principal', {})
    expect(() => context.get('principal')).toThrow(refused)
    release()
    expect(context.get('principal')).toEqual({})
  })

  it('keeps a later hold when an earlier release runs', () => {
    const context = new RequestContext({ createScope: scope })
    const first = context.withhold('principal', new Error('first'))
    const second = new Error('second')
    context.withhold('principal', second)
    first()
    expect(() => context.get('principal')).toThrow(second)
  })

  it('keeps an earlier hold when a later one is released first', () => {
    // Two modules withhold the principal (a CSRF check, a second factor): the second's release
    // made it readable while the first still had not proven the request.
    const context = new RequestContext({ createScope: scope })
    const first = new Error('first')
    const releaseFirst = context.withhold('principal', first)
    const releaseSecond = context.withhold('principal', new Error('second'))
    releaseSecond()
    expect(() => context.get('principal')).toThrow(first)
    releaseSecond()
    expect(() => context.get('principal')).toThrow(first)
    releaseFirst()
    expect(context.get('principal')).toBeUndefined()
  })

  it('throws a NoRequestContextError (E_NO_REQUEST_CONTEXT) outside a request', () => {
    expect(currentRequestContext()).toBeUndefined()
    expect(() => requestContext()).toThrow(NoRequestContextError)
    expect(() => requestContext()).toThrow(
      expect.objectContaining({ code: 'E_NO_REQUEST_CONTEXT' }),
    )
  })
})
