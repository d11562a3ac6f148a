import { afterAll, describe, expect, it } from 'vitest'
import { CookieJar } from '../testing/cookie-jar.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'

const PASSWORD = 'correct horse battery'
const CARD = { token: 'tok_visa_4242', last4: '4242', brand: 'visa' }

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`shop accounts on ${engine.describeTitle}`, () => {
    const shop = useTestShop({ engine })
    let email = ''
    let emailCount = 0
    const browser = (userAgent = 'test-browser') => new CookieJar({ base: shop().base, userAgent })
    const freshEmail = () => {
      emailCount += 1
      email = `shopper-${emailCount}-${Date.now()}@example.com`
      return email
    }

    afterAll(async () => {})

    it('signs up, logs the new account in, and refuses a second sign-up with the same email', async () => {
      const laptop = browser()
      const signup = await laptop.request('POST', '/auth/signup', {
        email: freshEmail(),
        password: PASSWORD,
      })
      expect(signup.status).toBe(201)
      expect(signup.json).toMatchObject({ user: { email }, csrfToken: expect.any(String) })
      expect(JSON.stringify(signup.json)).not.toContain(PASSWORD)
      expect(laptop.cookieHeader).toMatch(/(?:^|; )shop\.session=/)
      expect((await laptop.request('GET', '/me')).json).toMatchObject({ user: { email } })

      const again = await browser().request('POST', '/auth/signup', {
        email: ` ${email.toUpperCase()} `,
        password: 'another password',
      })
      expect(again.status).toBe(409)
      expect(again.headers.get('content-type')).toContain('application/problem+json')
      expect(again.json).toMatchObject({ status: 409, code: 'E_ACCOUNT_EXISTS' })
    })

    it('refuses a malformed email or a short password with a 422 problem naming the field', async () => {
      const visitor = browser()
      const badEmail = await visitor.request('POST', '/auth/signup', {
        email: 'not-an-email',
        password: PASSWORD,
      })
      expect(badEmail.status).toBe(422)
      expect(badEmail.json).toMatchObject({ code: 'E_VALIDATION', errors: [{ path: 'email' }] })
      const shortPassword = await visitor.request('POST', '/auth/signup', {
        email: freshEmail(),
        password: 'short',
      })
      expect(shortPassword.status).toBe(422)
      expect(shortPassword.json).toMatchObject({ errors: [{ path: 'password' }] })
      expect(JSON.stringify(shortPassword.json)).not.toContain('short"')
    })

    it('logs in with the right password and answers a wrong one and an unknown email alike', async () => {
      await browser().request('POST', '/auth/signup', { email: freshEmail(), password: PASSWORD })
      const wrong = await browser().request('POST', '/auth/login', {
        email,
        password: 'wrong password',
      })
      const unknown = await browser().request('POST', '/auth/login', {
        email: `nobody-${email}`,
        password: PASSWORD,
      })
      expect(wrong.status).toBe(401)
      expect(unknown.status).toBe(401)
      const { requestId: _wrongId, ...wrongProblem } = wrong.json
      const { requestId: _unknownId, ...unknownProblem } = unknown.json
      expect(unknownProblem).toEqual(wrongProblem)
      expect(wrong.json).toMatchObject({ code: 'E_UNAUTHORIZED' })

      const phone = browser('phone')
      expect((await phone.request('GET', '/me')).status).toBe(401)
      const login = await phone.request('POST', '/auth/login', {
        email: email.toUpperCase(),
        password: PASSWORD,
      })
      expect(login.status).toBe(200)
      expect(login.json).toMatchObject({ user: { email } })
      expect((await phone.request('GET', '/me')).json).toMatchObject({ user: { email } })

      const loggedInCookie = phone.cookieHeader
      const logout = await phone.request('POST', '/auth/logout')
      expect(logout.json).toMatchObject({ user: null })
      expect((await phone.request('GET', '/me')).status).toBe(401)
      // Logout revokes the session: a copy of the old cookie is refused too.
      const replayed = await fetch(`${shop().base}/me`, { headers: { cookie: loggedInCookie } })
      expect(replayed.status).toBe(401)
    })

    it('finds no account by an email that only a lenient collation takes for it', async () => {
      // MariaDB's default collation took 'shöppér-…' for 'shopper-…': each accented spelling logged
      // in as the account and was a login throttle key of its own, so guesses had no account limit.
      const address = freshEmail()
      await browser().request('POST', '/auth/signup', { email: address, password: PASSWORD })
      const [name = '', domain = ''] = address.split('@')
      for (const lookalike of [
        `${name.replace(/e/g, 'é')}@${domain}`,
        `${name.replace('o', 'ö')}@${domain}`,
      ]) {
        expect(lookalike).not.toBe(address)
        const login = await browser().request('POST', '/auth/login', {
          email: lookalike,
          password: PASSWORD,
        })
        expect(login.status).toBe(401)
      }
    })

    it('locks an account out after 5 wrong passwords, even for the right one, with a 429', async () => {
      await browser().request('POST', '/auth/signup', { email: freshEmail(), password: PASSWORD })
      const attacker = browser('attacker')
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const wrong = await attacker.request('POST', '/auth/login', {
          email,
          password: `guess number ${attempt}`,
        })
        expect(wrong.status).toBe(401)
      }
      const locked = await browser().request('POST', '/auth/login', { email, password: PASSWORD })
      expect(locked.status).toBe(429)
      expect(locked.json).toMatchObject({ code: 'E_LOGIN_THROTTLED' })
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    })

    it('throttles sign-ups that meet a taken email, as logins are, never locking its owner out', async () => {
      // A sign-up answers whether an email has an account (409), unthrottled: anyone could
      // check any number of emails, which login takes care never to tell.
      const owner = browser()
      const taken = freshEmail()
      await owner.request('POST', '/auth/signup', { email: taken, password: PASSWORD })
      const prober = browser('prober')
      const statuses: number[] = []
      for (let attempt = 1; attempt <= 6; attempt += 1) {
        const probe = await prober.request('POST', '/auth/signup', {
          email: taken,
          password: `probe password ${attempt}`,
        })
        statuses.push(probe.status)
      }
      // Every sign-up with the email counts, the owner's among them: four probes, then 429.
      expect(statuses).toEqual([409, 409, 409, 409, 429, 429])
      // The owner still logs in; another email still signs up from the same address.
      const login = await browser().request('POST', '/auth/login', {
        email: taken,
        password: PASSWORD,
      })
      expect(login.status).toBe(200)
      const other = await prober.request('POST', '/auth/signup', {
        email: freshEmail(),
        password: PASSWORD,
      })
      expect(other.status).toBe(201)
    })

    it('lists the devices, and "log out everywhere" with keepCurrent kills every other cookie', async () => {
      const laptop = browser('laptop')
      await laptop.request('POST', '/auth/signup', { email: freshEmail(), password: PASSWORD })
      const phone = browser('phone')
      await phone.request('POST', '/auth/login', { email, password: PASSWORD })

      const devices = (await laptop.request('GET', '/auth/sessions')).json.devices as {
        device: string
        current: boolean
        userAgent: string
      }[]
      expect(devices).toHaveLength(2)
      expect(devices.find((device) => device.current)?.userAgent).toBe('laptop')
      expect(devices.find((device) => !device.current)?.userAgent).toBe('phone')
      // Devices are named by a digest, never by the session id in the cookie.
      for (const { device } of devices) expect(laptop.cookieHeader).not.toContain(device)

      const phoneCookie = phone.cookieHeader
      const everywhere = await laptop.request('POST', '/auth/logout-everywhere', {
        keepCurrent: true,
      })
      expect(everywhere.json).toMatchObject({ revoked: 1, user: { email } })
      expect((await laptop.request('GET', '/me')).status).toBe(200)
      const replayed = await fetch(`${shop().base}/me`, { headers: { cookie: phoneCookie } })
      expect(replayed.status).toBe(401)
      expect((await phone.request('GET', '/me')).status).toBe(401)
    })

    it('"log out everywhere" without keepCurrent ends this session too', async () => {
      const laptop = browser('laptop')
      await laptop.request('POST', '/auth/signup', { email: freshEmail(), password: PASSWORD })
      const phone = browser('phone')
      await phone.request('POST', '/auth/login', { email, password: PASSWORD })
      const laptopCookie = laptop.cookieHeader
      const visitor = /shop\.visitor=([^;]+)/.exec(laptopCookie)?.[1]
      expect(visitor).toBeDefined()

      const everywhere = await laptop.request('POST', '/auth/logout-everywhere')
      expect(everywhere.json).toMatchObject({ revoked: 2, user: null })
      // The session cookie is cleared; the analytics visitor cookie is a new one, as the old
      // one is linked to the account.
      expect(laptop.cookieHeader).not.toContain('shop.session=')
      const next = /shop\.visitor=([^;]+)/.exec(laptop.cookieHeader)?.[1]
      expect(next).toMatch(/^[0-9a-f-]{36}$/)
      expect(next).not.toBe(visitor)
      for (const cookie of [laptopCookie, phone.cookieHeader]) {
        const replayed = await fetch(`${shop().base}/me`, { headers: { cookie } })
        expect(replayed.status).toBe(401)
      }
    })

    it('logs out one device by its id, and only the owner’s devices', async () => {
      const laptop = browser('laptop')
      await laptop.request('POST', '/auth/signup', { email: freshEmail(), password: PASSWORD })
      const phone = browser('phone')
      await phone.request('POST', '/auth/login', { email, password: PASSWORD })
      const stranger = browser('stranger')
      await stranger.request('POST', '/auth/signup', { email: freshEmail(), password: PASSWORD })

      const devices = (await laptop.request('GET', '/auth/sessions')).json.devices as {
        device: string
        current: boolean
      }[]
      const phoneDevice = devices.find((device) => !device.current)?.device ?? ''
      const foreign = await stranger.request('DELETE', `/auth/sessions/${phoneDevice}`)
      expect(foreign.status).toBe(404)
      expect((await phone.request('GET', '/me')).status).toBe(200)

      const revoked = await laptop.request('DELETE', `/auth/sessions/${phoneDevice}`)
      expect(revoked.json).toEqual({ revoked: 1 })
      expect((await phone.request('GET', '/me')).status).toBe(401)
      expect((await laptop.request('GET', '/me')).status).toBe(200)
    })

    it('refuses a logged-in write without Origin or CSRF token, and accepts the token', async () => {
      const script = new CookieJar({ base: shop().base, origin: null })
      const signup = await script.request('POST', '/auth/signup', {
        email: freshEmail(),
        password: PASSWORD,
      })
      expect(signup.status).toBe(201)
      const refused = await script.request('POST', '/payment-methods', CARD)
      expect(refused.status).toBe(403)
      expect(refused.json).toMatchObject({ code: 'E_CSRF_REJECTED', reason: 'missing-token' })
      const crossSite = await script.request(
        'POST',
        '/cart',
        { productId: 1 },
        {
          origin: 'https://evil.example',
        },
      )
      expect(crossSite.status).toBe(403)

      const withToken = await script.request(
        'POST',
        '/cart',
        { productId: 1 },
        {
          'x-csrf-token': signup.json.csrfToken as string,
        },
      )
      expect(withToken.status).toBe(201)
    })
  })
}
