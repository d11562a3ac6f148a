// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import type { App } from '../app/app.js'
import { LOGGER, type Logger } from '../logger/logger.js'
import type { Binder } from './binder.js'
import { token } from './token.js'

interface Mailer {
  send(to: string): Promise<void>
}
const MAILER = token<Mailer>('mailer')
const RETRIES = token<number>('retries')

class SmtpMailer implements Mailer {
  async send(): Promise<void> {}
}
class Counter {
  count = 0
}

declare const binder: Binder<{ readonly port: number }>
declare const app: App<{ readonly port: number }>

export function accepted(): void {
  binder.bind(MAILER, { useValue: new SmtpMailer() })
  binder.bind(MAILER, { useClass: SmtpMailer, lifetime: 'scoped' })
  binder.bind(MAILER, { useFactory: async () => new SmtpMailer() })
  binder.bind(RETRIES, { useValue: 3 })
  binder.bind(Counter)
  binder.bind(Counter, { lifetime: 'transient' })
  binder.bind(Counter, { useValue: new Counter() })
  binder.bind(MAILER, {
    inject: [LOGGER, RETRIES, Counter],
    useFactory: (logger, retries, counter) => {
      const l: Logger = logger
      const r: number = retries
      const c: Counter = counter
      void [l, r, c]
      return new SmtpMailer()
    },
  })
  const port: number = binder.config.port
  const mailer: Mailer = app.resolve(MAILER)
  const retries: number = app.resolve(RETRIES)
  const counter: Counter = app.resolve(Counter)
  const scoped: Mailer = app.createScope().resolve(MAILER)
  void [port, mailer, retries, counter, scoped]
}

export function rejected(): void {
  // @ts-expect-error a token<Mailer> cannot be bound to a number
  binder.bind(MAILER, { useValue: 42 })
  // @ts-expect-error a token<number> cannot be bound to a class of another type
  binder.bind(RETRIES, { useClass: SmtpMailer })
  // @ts-expect-error a factory must return the token's type
  binder.bind(RETRIES, { useFactory: () => 'three' })
  // @ts-expect-error an async factory must resolve to the token's type
  binder.bind(RETRIES, { useFactory: async () => 'three' })
  // @ts-expect-error factory parameters are typed from inject: a Logger is not a number
  binder.bind(RETRIES, { inject: [LOGGER], useFactory: (logger: number) => logger })
  // @ts-expect-error a token is not a class: it needs a provider
  binder.bind(MAILER)
  // @ts-expect-error lifetimes are 'singleton', 'scoped' or 'transient'
  binder.bind(Counter, { lifetime: 'request' })
  // @ts-expect-error resolve is typed by the key
  const n: string = app.resolve(RETRIES)
  // @ts-expect-error the module's config type is known
  const missing: string = binder.config.host
  void [n, missing]
}
