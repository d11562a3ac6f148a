import { describe, expect, it } from 'vitest'
import { createApp, registryOf } from '../app/create-app.js'
import { defineModule } from '../app/define-module.js'
import { RequestContext, requestContext, runInRequestContext } from '../context/request-context.js'
import { ResolutionError } from './resolution-error.js'
import { token } from './token.js'
import { inject, injectable } from './tsyringe.js'

let nextId = 0
class Unit {
  readonly id = ++nextId
}

async function appWith(register: Parameters<typeof defineModule>[0]['register']) {
  const app = createApp({ modules: [defineModule({ name: 'm', register })] })
  await app.start()
  return app
}

describe('request scopes', () => {
  it('creates a scoped provider once per scope', async () => {
    const app = await appWith((binder) => binder.bind(Unit, { lifetime: 'scoped' }))
    const first = app.createScope()
    const second = app.createScope()
    expect(first.resolve(Unit)).toBe(first.resolve(Unit))
    expect(second.resolve(Unit)).not.toBe(first.resolve(Unit))
    await app.stop()
  })

  it('injects the same scoped instance into everything resolved in one scope', async () => {
    const CART = token<Unit>('cart')
    @injectable()
    class Checkout {
      constructor(@inject(CART) readonly cart: Unit) {}
    }
    const app = await appWith((binder) => {
      binder.bind(CART, { useClass: Unit, lifetime: 'scoped' })
      binder.bind(Checkout, { lifetime: 'transient' })
    })
    const scope = app.createScope()
    const checkout = scope.resolve(Checkout)
    expect(checkout.cart).toBe(scope.resolve(CART))
    expect(scope.resolve(Checkout)).not.toBe(checkout)
    expect(app.createScope().resolve(Checkout).cart).not.toBe(checkout.cart)
    await app.stop()
  })

  it('gives singletons from the root in every scope', async () => {
    const app = await appWith((binder) => binder.bind(Unit))
    expect(app.createScope().resolve(Unit)).toBe(app.resolve(Unit))
    await app.stop()
  })

  it('gives a swapped singleton, and the value of a value binding, in a scope', async () => {
    const NAME = token<string>('name')
    const app = await appWith((binder) => {
      binder.bind(Unit)
      binder.bind(NAME, { useValue: 'shop' })
    })
    const swapped = new Unit()
    registryOf(app).swap(Unit, swapped)
    expect(app.createScope().resolve(Unit)).toBe(swapped)
    registryOf(app).restore(Unit)
    expect(app.createScope().resolve(Unit)).toBe(app.resolve(Unit))
    expect(app.createScope().resolve(NAME)).toBe('shop')
    await app.stop()
  })

  it('throws when a scoped provider is resolved outside a scope', async () => {
    const app = await appWith((binder) => binder.bind(Unit, { lifetime: 'scoped' }))
    expect(() => app.resolve(Unit)).toThrow(ResolutionError)
    expect(() => app.resolve(Unit)).toThrow(
      "class Unit in module 'm' is scoped (one per request) and was resolved outside a request scope; resolve it with requestContext().resolve(...) or app.createScope().resolve(...).",
    )
    // Still not cached as a singleton: a scope gets its own instance.
    expect(app.createScope().resolve(Unit)).toBeInstanceOf(Unit)
    await app.stop()
  })

  it('throws when a transient resolved from the root needs a scoped provider', async () => {
    const TENANT = token<string>('tenant')
    @injectable()
    class Label {
      constructor(@inject(TENANT) readonly tenant: string) {}
    }
    const app = await appWith((binder) => {
      binder.bind(TENANT, { useFactory: () => 'acme', lifetime: 'scoped' })
      binder.bind(Label, { lifetime: 'transient' })
    })
    expect(() => app.resolve(Label)).toThrow(/scoped \(one per request\)/)
    expect(app.createScope().resolve(Label).tenant).toBe('acme')
    await app.stop()
  })

  it('disposes scoped and transient instances when the scope is disposed, newest first', async () => {
    const disposed: string[] = []
    class Connection {
      dispose(): Promise<void> {
        disposed.push('connection')
        return Promise.resolve()
      }
    }
    @injectable()
    class UnitOfWork {
      constructor(readonly connection: Connection) {}
      dispose(): void {
        disposed.push('unit of work')
      }
    }
    const app = await appWith((binder) => {
      binder.bind(Connection, { lifetime: 'scoped' })
      binder.bind(UnitOfWork, { lifetime: 'transient' })
    })
    const scope = app.createScope()
    scope.resolve(UnitOfWork)
    expect(disposed).toEqual([])
    await scope.dispose()
    expect(disposed).toEqual(['unit of work', 'connection'])
    expect(() => scope.resolve(Connection)).toThrow(/already disposed/)
    await app.stop()
  })

  it('creates nothing for a scope that resolves nothing', async () => {
    const app = await appWith(() => undefined)
    const child = app.container.createChildContainer
    let created = 0
    app.container.createChildContainer = () => {
      created++
      return child.call(app.container)
    }
    const scope = app.createScope()
    await scope.dispose()
    expect(created).toBe(0)
    await app.stop()
  })

  it('refuses a non-singleton factory that returns a promise', async () => {
    const SLOW = token<string>('slow')
    // Not an async function, so only its result gives it away.
    const app = await appWith((binder) =>
      binder.bind(SLOW, { useFactory: () => Promise.resolve('x'), lifetime: 'transient' }),
    )
    expect(() => app.resolve(SLOW)).toThrow(
      "factory of token 'slow' in module 'm' returned a promise but its lifetime is 'transient'; only singletons may be async (start awaits them).",
    )
    await app.stop()
  })

  it('serves the request context of an HTTP adapter', async () => {
    const app = await appWith((binder) => binder.bind(Unit, { lifetime: 'scoped' }))
    const context = new RequestContext({ createScope: () => app.createScope() })
    const [a, b] = runInRequestContext(context, () => [
      requestContext().resolve(Unit),
      requestContext().resolve(Unit),
    ])
    expect(a).toBe(b)
    await context.dispose()
    await app.stop()
  })
})
