import { isMortarError, requestContext, safeText, toProblem } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import {
  ACCOUNTS,
  type Contact,
  logInWithPassword,
  logOut,
  PHONE_PATTERN,
  requirePrincipal,
  signUpWithPassword,
} from '../accounts/index.js'
import {
  CARD_BRANDS,
  CardTokenReusedError,
  newPaymentMethodSchema,
  PAYMENT_METHODS,
  type PaymentMethod,
} from '../payments/index.js'
import { problemText } from './error-pages.js'
import { when } from './format.js'
import { type Html, html } from './html.js'
import { csrfField, layout, type PageChrome } from './layout.js'
import {
  flash,
  isLocalPath,
  page,
  pageChrome,
  type StorefrontOptions,
  seeOther,
  sendHtml,
} from './page.js'
import { parseInput } from '../validation/index.js'

/** What the account pages need beyond the storefront's options. */
export interface AccountPagesOptions extends StorefrontOptions {
  /** More sections of the account page (notification settings), after the payment methods. */
  readonly accountSections?: ReadonlyArray<(chrome: PageChrome, userId: string) => Promise<Html>>
}

const nextQuery = z.object({ next: z.string().max(2000).optional() })
const phoneForm = z.object({
  phone: z
    .string()
    .trim()
    .transform((phone) => phone.replace(/[\s().-]/g, ''))
    .pipe(z.union([z.literal(''), z.string().regex(PHONE_PATTERN, 'must look like +15550100')])),
  smsOptIn: z.literal('on').optional(),
})
const methodParams = z.object({ id: safeText({ min: 1, max: 64 }) })

function withNext(path: string, next: string | undefined): string {
  return next === undefined ? path : `${path}?next=${encodeURIComponent(next)}`
}

function credentialsForm(
  chrome: PageChrome,
  action: 'login' | 'signup',
  next: string | undefined,
  email = '',
): Html {
  return html`<form method="post" action="/store/${action}" class="stack">
    ${csrfField(chrome)}
    ${next === undefined ? '' : html`<input type="hidden" name="next" value="${next}">`}
    <label>Email <input type="email" name="email" value="${email}" required autocomplete="email"></label>
    <label>Password <input type="password" name="password" required minlength="${action === 'signup' ? 10 : 1}"
      autocomplete="${action === 'signup' ? 'new-password' : 'current-password'}"></label>
    <button>${action === 'signup' ? 'Sign up' : 'Log in'}</button>
  </form>
  ${
    action === 'login'
      ? html`<p>New here? <a href="${withNext('/store/signup', next)}">Sign up</a>.</p>`
      : html`<p>Have an account? <a href="${withNext('/store/login', next)}">Log in</a>.</p>`
  }`
}

function phoneSection(chrome: PageChrome, contact: Contact | undefined): Html {
  return html`<section><h2>Text messages</h2>
    <form method="post" action="/store/account/phone" class="stack">
      ${csrfField(chrome)}
      <label>Mobile number <input name="phone" type="tel" value="${contact?.phone ?? ''}" placeholder="+15550100" maxlength="20"></label>
      <label class="row"><input type="checkbox" name="smsOptIn" ${contact?.smsOptIn ? 'checked' : ''}> Text me shipping updates</label>
      <button>Save</button>
    </form></section>`
}

function methodRow(method: PaymentMethod, chrome: PageChrome): Html {
  return html`<tr><td>${method.brand}</td><td>•••• ${method.last4}</td><td>${when(method.createdAt)}</td>
    <td><form method="post" action="/store/account/payment-methods/${method.id}/delete" data-confirm="Delete this card?">
      ${csrfField(chrome)}<button class="link">Delete</button></form></td></tr>`
}

/**
 * Accounts in HTML: sign-up and login forms (throttled like the JSON API, through the same
 * functions), logout, and the account page with the saved payment methods (add, delete) and
 * the sections other modules add (notification settings).
 */
export async function accountPages(
  server: FastifyInstance,
  options: AccountPagesOptions,
): Promise<void> {
  for (const action of ['login', 'signup'] as const) {
    const title = action === 'login' ? 'Log in' : 'Sign up'

    server.get(
      `/${action}`,
      page(async (request) => {
        const next = nextQuery.safeParse(request.query).data?.next
        const chrome = await pageChrome(options)
        return layout(
          title,
          chrome,
          credentialsForm(chrome, action, isLocalPath(next) ? next : undefined),
        )
      }),
    )

    server.post(
      `/${action}`,
      page(async (request, reply) => {
        const body = (request.body ?? {}) as Record<string, unknown>
        const next = typeof body.next === 'string' && isLocalPath(body.next) ? body.next : '/store'
        const session = options.session()
        // Set before the login saves the session, so one cookie carries both.
        session.flash('notice', action === 'login' ? 'Welcome back.' : 'Welcome to the shop.')
        try {
          if (action === 'login') await logInWithPassword(session, body)
          else await signUpWithPassword(session, body)
        } catch (error) {
          // Whatever the visitor is told (a wrong password, a taken email, a lockout, a busy
          // password hasher): the form again, with the reason, the email, the status and when to
          // retry, so they can act on it. Anything else is the server's failure, its own page.
          if (!isMortarError(error) || !error.expose) throw error
          const problem = toProblem(error)
          const retryAfter = problem.headers['retry-after']
          if (retryAfter !== undefined) reply.header('retry-after', retryAfter)
          const chrome = { ...(await pageChrome(options)), alert: problemText(problem.body) }
          const email = typeof body.email === 'string' ? body.email.slice(0, 254) : ''
          return sendHtml(
            reply,
            layout(title, chrome, credentialsForm(chrome, action, next, email)),
            problem.status,
          )
        }
        return seeOther(reply, next)
      }),
    )
  }

  server.post(
    '/logout',
    page(async (_request, reply) => {
      await logOut(options.session())
      await flash(options, 'You are logged out.')
      return seeOther(reply, '/store')
    }),
  )

  server.get(
    '/account',
    page(async () => {
      const me = requirePrincipal()
      const chrome = await pageChrome(options)
      const context = requestContext()
      const [methods, contacts] = await Promise.all([
        context.resolve(PAYMENT_METHODS).list(me.id),
        context.resolve(ACCOUNTS).contacts([me.id]),
      ])
      const sections = await Promise.all(
        (options.accountSections ?? []).map((section) => section(chrome, me.id)),
      )
      return layout(
        'Your account',
        chrome,
        html`<section><h2>Payment methods</h2>
          ${methods.length === 0 ? html`<p>No saved card yet.</p>` : html`<table id="payment-methods"><tbody>${methods.map((method) => methodRow(method, chrome))}</tbody></table>`}
          <h3>Add a card</h3>
          <p class="muted">A real shop gets the token from its payment provider's card form; try <code>tok_visa_4242</code>.</p>
          <form method="post" action="/store/account/payment-methods" class="stack">
            ${csrfField(chrome)}
            <label>Provider token <input name="token" required pattern="[A-Za-z0-9_\\-]{6,200}"></label>
            <label>Last four digits <input name="last4" required pattern="[0-9]{4}" inputmode="numeric"></label>
            <label>Brand <select name="brand">${CARD_BRANDS.map((brand) => html`<option>${brand}</option>`)}</select></label>
            <button>Save card</button>
          </form></section>
        ${phoneSection(chrome, contacts.get(me.id))}
        ${sections}`,
      )
    }),
  )

  server.post(
    '/account/phone',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const { phone, smsOptIn } = parseInput(phoneForm, request.body)
      await requestContext()
        .resolve(ACCOUNTS)
        .setPhone(me.id, phone === '' ? null : phone, smsOptIn === 'on')
      await flash(options, phone === '' ? 'Number removed.' : 'Number saved.')
      return seeOther(reply, '/store/account')
    }),
  )

  server.post(
    '/account/payment-methods',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const parsed = parseInput(newPaymentMethodSchema, request.body)
      try {
        await requestContext().resolve(PAYMENT_METHODS).add(me.id, parsed)
      } catch (error) {
        // A token saved already as another card: the account page with the reason, not a bare
        // 422 error page.
        if (!(error instanceof CardTokenReusedError)) throw error
        await flash(options, error.message, 'alert')
        return seeOther(reply, '/store/account')
      }
      await flash(options, 'Card saved.')
      return seeOther(reply, '/store/account')
    }),
  )

  server.post(
    '/account/payment-methods/:id/delete',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const parsed = parseInput(methodParams, request.params)
      await requestContext().resolve(PAYMENT_METHODS).remove(me.id, parsed.id)
      await flash(options, 'Card deleted.')
      return seeOther(reply, '/store/account')
    }),
  )
}
