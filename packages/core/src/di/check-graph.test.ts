import { describe, expect, it } from 'vitest'
import { createApp } from '../app/create-app.js'
import { defineModule } from '../app/define-module.js'
import { StartupError } from '../app/startup-error.js'
import type { EventBus } from '../events/event-bus.js'
import { token } from './token.js'
import { inject, injectable } from './tsyringe.js'

interface Mailer {
  send(to: string): void
}
const MAILER = token<Mailer>('mailer')
const TENANT = token<string>('tenant')
const PAYMENTS = token<object>('payments')

async function startupProblems(...modules: Parameters<typeof createApp>[0]['modules']) {
  const app = createApp({ modules })
  const error = await app.start().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(StartupError)
  expect(app.state).toBe('stopped')
  return error as StartupError
}

describe('start-up graph check', () => {
  it('names the class, parameter, token and module of a missing token', async () => {
    @injectable()
    class SignupService {
      constructor(@inject(MAILER) readonly mailer: Mailer) {}
    }
    const error = await startupProblems(
      defineModule({ name: 'users', register: (binder) => binder.bind(SignupService) }),
    )
    expect(error.code).toBe('E_STARTUP')
    expect(error.status).toBe(500)
    expect(error.problems).toEqual([
      "class SignupService in module 'users', constructor parameter #0 'mailer' needs token 'mailer', which no module binds; bind it in a module's register() (binder.bind(...)) or add the module that does.",
    ])
    expect(error.message).toContain(`\n- ${error.problems[0]}`)
  })

  it("says what the missing token's own hint says to do", async () => {
    const REGISTRY = token<string>('plugin.registry', {
      whenMissing: 'add pluginRegistry() to createApp({ modules })',
    })
    const error = await startupProblems(
      defineModule({
        name: 'plugin',
        register: (binder) =>
          binder.bind(token<number>('plugin.engine'), { inject: [REGISTRY], useFactory: () => 1 }),
      }),
    )
    expect(error.problems).toEqual([
      expect.stringMatching(
        /needs token 'plugin\.registry', which no module binds; add pluginRegistry\(\) to createApp\(\{ modules \}\)\.$/,
      ),
    ])
  })

  it('names the inject entry of a factory whose key is missing', async () => {
    const error = await startupProblems(
      defineModule({
        name: 'mail',
        register: (binder) =>
          binder.bind(token<number>('retries'), { inject: [TENANT], useFactory: () => 3 }),
      }),
    )
    expect(error.problems).toEqual([
      expect.stringMatching(
        /^factory of token 'retries' in module 'mail', inject\[0\] needs token 'tenant', which no module binds/,
      ),
    ])
  })

  it('reports every problem at once, one per line', async () => {
    @injectable()
    class A {
      constructor(@inject(MAILER) readonly mailer: Mailer) {}
    }
    @injectable()
    class B {
      constructor(@inject(TENANT) readonly tenant: string) {}
    }
    const error = await startupProblems(
      defineModule({ name: 'a', register: (binder) => binder.bind(A) }),
      defineModule({ name: 'b', register: (binder) => binder.bind(B) }),
    )
    expect(error.problems).toHaveLength(2)
    expect(error.problems[0]).toContain("class A in module 'a'")
    expect(error.problems[1]).toContain("class B in module 'b'")
    expect(error.message.split('\n')).toHaveLength(3)
  })

  it('reports a cycle once, naming each class, parameter and module on it', async () => {
    @injectable()
    class Orders {
      constructor(@inject(PAYMENTS) readonly payments: object) {}
    }
    @injectable()
    class Payments {
      constructor(readonly orders: Orders) {}
    }
    const error = await startupProblems(
      defineModule({ name: 'orders', register: (binder) => binder.bind(Orders) }),
      defineModule({
        name: 'payments',
        register: (binder) => binder.bind(PAYMENTS, { useClass: Payments }),
      }),
    )
    expect(error.problems).toEqual([
      "Dependency cycle: class Orders in module 'orders', constructor parameter #0 'payments' needs token 'payments' -> class Payments (bound to token 'payments') in module 'payments', constructor parameter #0 'orders' needs class Orders; break it by moving the shared part into a provider of its own, or resolve one side later from a factory.",
    ])
  })

  it('finds a singleton that captures a scoped provider through a transient', async () => {
    @injectable()
    class TenantLabel {
      constructor(@inject(TENANT) readonly tenant: string) {}
    }
    @injectable()
    class Reports {
      constructor(readonly label: TenantLabel) {}
    }
    const error = await startupProblems(
      defineModule({
        name: 'tenancy',
        register(binder) {
          binder.bind(TENANT, { useFactory: () => 'acme', lifetime: 'scoped' })
          binder.bind(TenantLabel, { lifetime: 'transient' })
        },
      }),
      defineModule({ name: 'reports', register: (binder) => binder.bind(Reports) }),
    )
    expect(error.problems).toEqual([
      "Captive dependency: singleton class Reports in module 'reports' depends on scoped factory of token 'tenant' in module 'tenancy': class Reports in module 'reports', constructor parameter #0 'label' needs class TenantLabel -> class TenantLabel in module 'tenancy', constructor parameter #0 'tenant' needs token 'tenant'. A singleton would keep the first request's instance for good; make it 'scoped' or 'transient', or inject something that is not scoped.",
    ])
  })

  it('accepts scoped and transient providers that depend on scoped ones', async () => {
    @injectable()
    class TenantLabel {
      constructor(@inject(TENANT) readonly tenant: string) {}
    }
    const app = createApp({
      modules: [
        defineModule({
          name: 'tenancy',
          register(binder) {
            binder.bind(TENANT, { useFactory: () => 'acme', lifetime: 'scoped' })
            binder.bind(TenantLabel, { lifetime: 'transient' })
          },
        }),
      ],
    })
    await expect(app.start()).resolves.toBeUndefined()
    await app.stop()
  })

  it('asks for @inject on a parameter typed by an interface', async () => {
    @injectable()
    class Notifier {
      constructor(readonly mailer: Mailer) {}
    }
    const error = await startupProblems(
      defineModule({ name: 'notify', register: (binder) => binder.bind(Notifier) }),
    )
    expect(error.problems).toEqual([
      "class Notifier in module 'notify', constructor parameter #0 'mailer' has type metadata Object, which does not say what to inject (an interface, a primitive, or a class imported with `import type`); use @inject(token) on this parameter.",
    ])
  })

  it('asks for @inject on a parameter whose class was imported with import type', async () => {
    @injectable()
    class AuditLog {
      constructor(readonly bus: EventBus) {}
    }
    const error = await startupProblems(
      defineModule({ name: 'audit', register: (binder) => binder.bind(AuditLog) }),
    )
    expect(error.problems).toEqual([
      expect.stringContaining(
        "class AuditLog in module 'audit', constructor parameter #0 'bus' has type metadata Object",
      ),
    ])
  })

  it('asks for @injectable() or @inject on an undecorated class whose parameters are classes', async () => {
    class Ledger {}
    // No decorator, so no design:paramtypes, even with emitDecoratorMetadata on.
    class Plain {
      constructor(readonly ledger: Ledger) {}
    }
    const error = await startupProblems(
      defineModule({
        name: 'plain',
        register(binder) {
          binder.bind(Ledger)
          binder.bind(Plain)
        },
      }),
    )
    expect(error.problems).toEqual([
      expect.stringContaining(
        "class Plain in module 'plain', constructor parameter #0 'ledger' has no type metadata",
      ),
    ])
    expect(error.problems[0]).toContain('add @injectable() (from @mortar/core) to the class')
    expect(error.problems[0]).toContain(
      'TypeScript records constructor parameter types only for decorated classes',
    )
    expect(error.problems[0]).toContain('@inject(token) on each parameter')
  })

  it('starts the same class once it carries @injectable()', async () => {
    class Ledger {}
    @injectable()
    class Decorated {
      constructor(readonly ledger: Ledger) {}
    }
    const app = createApp({
      modules: [
        defineModule({
          name: 'plain',
          register(binder) {
            binder.bind(Ledger)
            binder.bind(Decorated)
          },
        }),
      ],
    })
    await app.start()
    expect(app.resolve(Decorated).ledger).toBe(app.resolve(Ledger))
    await app.stop()
  })

  it('refuses an async factory that is not a singleton', async () => {
    const error = await startupProblems(
      defineModule({
        name: 'db',
        register: (binder) =>
          binder.bind(TENANT, { useFactory: async () => 'acme', lifetime: 'transient' }),
      }),
    )
    expect(error.problems).toEqual([
      "factory of token 'tenant' in module 'db' is an async factory with lifetime 'transient'; only singletons may be async (start awaits them): make it a singleton or synchronous.",
    ])
  })

  it('refuses two modules with the same name', async () => {
    const mail = defineModule({ name: 'mail', register: () => undefined })
    const error = await startupProblems(mail, mail)
    expect(error.problems).toEqual([expect.stringContaining("Two modules are named 'mail'")])
  })

  it('does not ask for the dependencies of an override', async () => {
    @injectable()
    class RealMailer implements Mailer {
      constructor(@inject(TENANT) readonly tenant: string) {}
      send(): void {
        throw new Error('the real mailer must not run in this test')
      }
    }
    const sent: string[] = []
    const app = createApp({
      modules: [
        defineModule({
          name: 'mail',
          register: (binder) => binder.bind(MAILER, { useClass: RealMailer }),
        }),
      ],
      overrides: (binder) => binder.bind(MAILER, { useValue: { send: (to) => sent.push(to) } }),
    })
    await app.start()
    app.resolve(MAILER).send('ada@example.com')
    expect(sent).toEqual(['ada@example.com'])
    await app.stop()
  })
})
