import { afterEach, describe, expect, it } from 'vitest'
import { CookieJar } from '../testing/cookie-jar.js'
import { SHOPPER_PASSWORD, signUpShopper } from '../testing/shopper.js'
import { sqliteTestEngine, startTestShop, type TestShop } from '../testing/test-shop.js'

// Alerts are raised and cooled down in the process; the ledger under them is tested on every
// engine by the order notifications. SQLite is enough here.
describe('admin alerts', () => {
  let shop: TestShop | undefined

  afterEach(async () => {
    await shop?.close()
    shop = undefined
  })

  async function start(env: Record<string, string>): Promise<TestShop> {
    shop = await startTestShop(sqliteTestEngine(), { env })
    return shop
  }

  it('alerts the admins of a login lockout (LOGIN_MAX_FAILURES), once per cooldown', async () => {
    const { base, app, mailbox } = await start({ LOGIN_MAX_FAILURES: '2' })
    const admin = app.config.adminEmail
    const lockOut = async (email: string) => {
      const attacker = new CookieJar({ base, userAgent: 'attacker' })
      const answers = []
      for (let attempt = 0; attempt < 3; attempt += 1) {
        answers.push(
          (await attacker.request('POST', '/auth/login', { email, password: 'not the password' }))
            .status,
        )
      }
      return answers
    }
    const victim = await signUpShopper(base, 'victim')
    // Two wrong passwords lock the account: the third try is refused without a check.
    expect(await lockOut(victim.email)).toEqual([401, 401, 429])
    const alert = await mailbox.waitFor((mail) => mail.to === admin)
    expect(alert.subject).toMatch(/^\[warning\] Login lockout of account/)
    // A second account locked within the cooldown is counted, not mailed again.
    const other = await signUpShopper(base, 'other')
    expect(await lockOut(other.email)).toEqual([401, 401, 429])
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(
      mailbox.messages(admin).filter((mail) => mail.subject.includes('Login lockout')),
    ).toHaveLength(1)
    // Customers never get admin alerts.
    expect(mailbox.messages(victim.email).map((mail) => mail.subject)).toEqual([])
    // The right password still works once the lockout is over; until then it is refused too.
    const owner = new CookieJar({ base })
    expect(
      (
        await owner.request('POST', '/auth/login', {
          email: victim.email,
          password: SHOPPER_PASSWORD,
        })
      ).status,
    ).toBe(429)
  })

  it('alerts the admins when the process passes its memory limit (ALERT_HEAP_MB)', async () => {
    const { app, mailbox } = await start({ ALERT_HEAP_MB: '1', ALERT_CHECK_SECONDS: '1' })
    const alert = await mailbox.waitFor((mail) => mail.to === app.config.adminEmail, 10_000)
    expect(alert.subject).toMatch(/^\[critical\] .*heap/i)
  })
})
