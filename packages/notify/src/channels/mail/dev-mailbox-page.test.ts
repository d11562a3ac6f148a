import { RequestContext, runInRequestContext } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { devMailbox } from './dev-mailbox.js'
import { devMailboxPage } from './dev-mailbox-page.js'

// What the page logs (LOGGER is all it resolves).
const warnings: unknown[] = []
const logger = { warn: (fields: unknown) => void warnings.push(fields), error: () => undefined }

function inRequest(
  handler: (request: Request) => Response | Promise<Response>,
  url: string,
  admin: boolean,
  ip: string | null = '127.0.0.1', // null: not an HTTP request
  headers: Record<string, string> = {},
) {
  const context = new RequestContext({
    createScope: () => ({ resolve: () => logger as never, dispose: async () => {} }),
    ip: ip ?? undefined,
  })
  context.set('principal', { admin } as never)
  return runInRequestContext(context, () => handler(new Request(url, { headers })))
}

async function capture() {
  const mailbox = devMailbox()
  await mailbox.send({
    messageId: '<d-1@shop.example>',
    from: 'Shop <no-reply@shop.example>',
    to: 'ada@example.com',
    subject: 'Your order <script>alert(1)</script>',
    text: 'Thanks & bye',
    html: '<p onclick="x()">Thanks</p><script>alert(2)</script>',
  })
  return mailbox
}

describe('devMailboxPage', () => {
  const isAdmin = (context: RequestContext) =>
    (context.get('principal') as { admin?: boolean } | undefined)?.admin === true

  it('refuses without a guard outside development, and outside a request context', async () => {
    const page = devMailboxPage(await capture(), { env: { NODE_ENV: 'production' } })
    expect((await inRequest(page, 'http://localhost/', true)).status).toBe(403)
    const unset = devMailboxPage(await capture(), { env: {} })
    const response = await inRequest(unset, 'http://localhost/', true)
    expect(response.status).toBe(403)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(((await response.json()) as { code: string }).code).toBe('E_FORBIDDEN')
    const guarded = devMailboxPage(await capture(), { guard: () => true })
    expect((await guarded(new Request('http://localhost/'))).status).toBe(403)
  })

  it('answers in development without a guard, and follows the guard when there is one', async () => {
    const dev = devMailboxPage(await capture(), { env: { NODE_ENV: 'development' } })
    expect((await inRequest(dev, 'http://localhost/', false)).status).toBe(200)
    const guarded = devMailboxPage(await capture(), {
      guard: isAdmin,
      env: { NODE_ENV: 'development' },
    })
    expect((await inRequest(guarded, 'http://localhost/', false)).status).toBe(403)
    expect((await inRequest(guarded, 'http://localhost/', true)).status).toBe(200)
    const throwing = devMailboxPage(await capture(), {
      guard: () => {
        throw new Error('no session')
      },
    })
    warnings.length = 0
    expect((await inRequest(throwing, 'http://localhost/', true)).status).toBe(403)
    // Refused, and logged: before, a guard that failed left no trace but the 403.
    expect(warnings).toEqual([
      expect.objectContaining({ err: expect.objectContaining({ message: 'no session' }) }),
    ])
  })

  it('answers without a guard only to this machine, even in development (a public dev server shows no one’s mail)', async () => {
    const dev = devMailboxPage(await capture(), { env: { NODE_ENV: 'development' } })
    for (const ip of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect((await inRequest(dev, 'http://localhost/', false, ip)).status).toBe(200)
    }
    for (const ip of ['203.0.113.5', '10.0.0.2', '::ffff:10.0.0.2', 'fe80::1', null]) {
      expect((await inRequest(dev, 'http://localhost/', false, ip)).status).toBe(403)
    }
    const guarded = devMailboxPage(await capture(), { guard: () => true })
    expect((await inRequest(guarded, 'http://localhost/', false, '203.0.113.5')).status).toBe(200)
  })

  it('refuses without a guard what a proxy on this machine forwards (it connects from loopback for anyone)', async () => {
    const dev = devMailboxPage(await capture(), { env: { NODE_ENV: 'development' } })
    const forwards: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.5' },
      { forwarded: 'for=203.0.113.5' },
      { 'x-real-ip': '203.0.113.5' },
      { 'x-forwarded-host': 'dev.example.com' },
      { via: '1.1 caddy' },
    ]
    for (const headers of forwards) {
      expect((await inRequest(dev, 'http://localhost/', false, '127.0.0.1', headers)).status).toBe(
        403,
      )
    }
  })

  it('refuses without a guard a request for another host, as a site rebound to 127.0.0.1 sends', async () => {
    // Before, a page on evil.example whose name the attacker pointed at 127.0.0.1 read the mail
    // from the developer's own browser: the request came from loopback.
    const dev = devMailboxPage(await capture(), { env: { NODE_ENV: 'development' } })
    for (const host of [
      'evil.example',
      'evil.example:3000',
      '127.0.0.1.evil.example',
      'localhost.evil.example',
      '10.0.0.2:3000',
    ]) {
      const response = await inRequest(dev, 'http://localhost/', false, '127.0.0.1', { host })
      expect([host, response.status]).toEqual([host, 403])
    }
    for (const host of [
      'localhost',
      'localhost:3000',
      'shop.localhost:3000',
      '127.0.0.1:3000',
      '[::1]:3000',
    ]) {
      const response = await inRequest(dev, 'http://localhost/', false, '127.0.0.1', { host })
      expect([host, response.status]).toEqual([host, 200])
    }
    // Without a Host header, the URL's own host is judged.
    expect((await inRequest(dev, 'http://evil.example/', false)).status).toBe(403)
  })

  it('lists mail with every captured field escaped, and shows HTML only in a sandboxed frame', async () => {
    const mailbox = await capture()
    const page = devMailboxPage(mailbox, { guard: isAdmin })
    const list = await (await inRequest(page, 'http://x/dev/mailbox', true)).text()
    expect(list).toContain('Your order &lt;script&gt;alert(1)&lt;/script&gt;')
    expect(list).not.toContain('<script>alert(1)')
    const id = mailbox.messages()[0]?.id ?? ''
    expect(list).toContain(`href="?id=${id}"`)
    const view = await inRequest(page, `http://x/?id=${id}`, true)
    expect(view.headers.get('content-security-policy')).toContain("default-src 'none'")
    const body = await view.text()
    expect(body).toContain(
      '<iframe title="HTML body" sandbox="" srcdoc="&lt;p onclick=&quot;x()&quot;&gt;',
    )
    expect(body).not.toContain('<script>alert(2)')
    expect(body).toContain('Thanks &amp; bye')
  })

  it('serves JSON for tests and 404 for an unknown mail', async () => {
    const mailbox = await capture()
    const page = devMailboxPage(mailbox, { guard: isAdmin })
    const json = await (await inRequest(page, 'http://x/?format=json', true)).json()
    expect(json).toMatchObject([{ to: 'ada@example.com', messageId: '<d-1@shop.example>' }])
    expect((await inRequest(page, 'http://x/?id=nope', true)).status).toBe(404)
  })

  it('keeps only the newest mails up to its capacity, and waits for one to arrive', async () => {
    const mailbox = devMailbox({ capacity: 2 })
    const arriving = mailbox.waitFor((mail) => mail.to === 'c@example.com')
    for (const to of ['a@example.com', 'b@example.com', 'c@example.com']) {
      await mailbox.send({
        messageId: `<${to}>`,
        from: 'x@example.com',
        to,
        subject: 's',
        text: 't',
      })
    }
    expect((await arriving).to).toBe('c@example.com')
    expect(mailbox.messages().map((mail) => mail.to)).toEqual(['c@example.com', 'b@example.com'])
    await expect(mailbox.waitFor(() => false, 20)).rejects.toThrow(/within 20 ms/)
  })
})
