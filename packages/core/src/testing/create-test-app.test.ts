import { describe, expect, it } from 'vitest'
import { defineModule } from '../app/define-module.js'
import { CLOCK, type Clock } from '../clock/clock.js'
import { token } from '../di/token.js'
import { inject, injectable } from '../di/tsyringe.js'
import { createTestApp, FakeClock } from './index.js'

interface Mailer {
  send(to: string): void
}
const MAILER = token<Mailer>('mailer')
const SMTP_URL = token<string>('smtp.url')

@injectable()
class SmtpMailer implements Mailer {
  constructor(@inject(SMTP_URL) readonly url: string) {}
  send(): void {
    throw new Error('no SMTP server in tests')
  }
}

@injectable()
class Signup {
  constructor(
    @inject(MAILER) readonly mailer: Mailer,
    @inject(CLOCK) readonly clock: Clock,
  ) {}
  signup(email: string): number {
    this.mailer.send(email)
    return this.clock.nowMs()
  }
}

const users = defineModule({
  name: 'users',
  register(binder) {
    binder.bind(MAILER, { useClass: SmtpMailer })
    binder.bind(Signup)
  },
})

describe('createTestApp', () => {
  it('replaces a provider with an override and needs none of the replaced one’s dependencies', async () => {
    const sent: string[] = []
    const app = createTestApp({
      modules: [users],
      overrides: (binder) => binder.bind(MAILER, { useValue: { send: (to) => sent.push(to) } }),
    })
    await app.start()
    app.resolve(Signup).signup('ada@example.com')
    expect(sent).toEqual(['ada@example.com'])
    await app.stop()
  })

  it('binds a fake clock that the test moves', async () => {
    const app = createTestApp({
      modules: [users],
      overrides: (binder) => binder.bind(MAILER, { useValue: { send: () => undefined } }),
    })
    await app.start()
    expect(app.resolve(CLOCK)).toBe(app.clock)
    app.clock.set('2026-03-01T09:00:00Z')
    app.clock.advance(60_000)
    expect(app.resolve(Signup).signup('ada@example.com')).toBe(Date.parse('2026-03-01T09:01:00Z'))
    await app.stop()
  })

  it('uses the clock it is given', async () => {
    const clock = new FakeClock('2030-01-01T00:00:00Z')
    const app = createTestApp({ modules: [], clock })
    await app.start()
    expect(app.resolve(CLOCK)).toBe(clock)
    expect(app.clock).toBe(clock)
    await app.stop()
  })

  it('swaps a key for later resolutions and restores it', async () => {
    const sent: string[] = []
    const app = createTestApp({
      modules: [
        defineModule({
          name: 'users',
          register(binder) {
            binder.bind(MAILER, { useValue: { send: (to) => sent.push(`real ${to}`) } })
            binder.bind(Signup, { lifetime: 'transient' })
          },
        }),
      ],
    })
    await app.start()
    app.swap(MAILER, { send: (to) => sent.push(`fake ${to}`) })
    app.resolve(Signup).signup('a')
    app.createScope().resolve(Signup).signup('b')
    app.restore(MAILER)
    app.resolve(Signup).signup('c')
    app.swap(MAILER, { send: (to) => sent.push(`fake ${to}`) })
    app.restore()
    app.resolve(MAILER).send('d')
    expect(sent).toEqual(['fake a', 'fake b', 'real c', 'real d'])
    expect(() => app.swap(token<string>('unbound'), 'x')).toThrow(/Nothing is bound/)
    await app.stop()
  })

  it('still fails start on a missing dependency of a provider that was not overridden', async () => {
    const app = createTestApp({ modules: [users] })
    await expect(app.start()).rejects.toThrow(
      "class SmtpMailer (bound to token 'mailer') in module 'users', constructor parameter #0 'url' needs token 'smtp.url'",
    )
  })
})
