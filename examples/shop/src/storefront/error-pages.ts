import { Readable } from 'node:stream'
import { NotFoundError, PROBLEM_CONTENT_TYPE, type ProblemDetails } from '@mortar/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { currentPrincipal } from '../accounts/index.js'
import { html } from './html.js'
import { layout, type PageChrome } from './layout.js'
import { pageChrome, type StorefrontOptions } from './page.js'

/**
 * Makes every error of the pages of `server`'s scope an HTML page, whatever raised it: a route, a
 * hook before it (the CSRF guard, the form parser's size limit), an unknown path under the
 * scope's prefix (when it has one), a busy password hasher's 503. Mortar's handler renders each as problem+json
 * first (so it keeps its status, its `Retry-After` and the log of a server error with the request
 * id), then this turns it into the page a person can act on: a 401 sends them to the login form,
 * anything else is the shop's layout with the problem's title and detail. A request that sent
 * JSON keeps its problem+json.
 */
export function htmlErrorPages(server: FastifyInstance, options: StorefrontOptions): void {
  // A scope without a prefix of its own leaves unknown paths to the server's handler.
  if (server.prefix !== '') {
    server.setNotFoundHandler(() => {
      throw new NotFoundError('There is no page here.')
    })
  }
  server.addHook('onSend', async (request, reply, payload) => {
    if (!isProblem(reply) || sentJson(request)) return payload
    const problem = parsed(await text(payload), reply.statusCode)
    reply.removeHeader('content-length')
    if (problem.status === 401) {
      const next = request.method === 'GET' ? request.url : '/store'
      reply
        .code(303)
        .header('location', `/store/login?next=${encodeURIComponent(next)}`)
        .removeHeader('content-type')
      return ''
    }
    reply.type('text/html; charset=utf-8')
    const body = html`<p>${problemText(problem)}</p>
      ${problem.code === undefined ? '' : html`<p class="muted">Error <code class="problem-code">${problem.code}</code></p>`}
      ${problem.status >= 500 && problem.requestId !== undefined ? html`<p class="muted">Request ${problem.requestId}</p>` : ''}
      <p><a href="/store">Back to the shop</a></p>`
    return layout(problem.title, await chromeOrBare(options), body).toString()
  })
}

/**
 * What a page tells a person of a problem: its detail, then each refused field and why
 * (`password: Too small…`), so they know what to change; a bare "The input is invalid." did not.
 */
export function problemText(problem: Partial<ProblemDetails>): string {
  const fields = (Array.isArray(problem.errors) ? (problem.errors as unknown[]) : [])
    .flatMap((issue) => {
      const { path, message } = (issue ?? {}) as { path?: unknown; message?: unknown }
      return typeof message === 'string' ? [path ? `${String(path)}: ${message}` : message] : []
    })
    .slice(0, 5)
  const detail = problem.detail ?? problem.title ?? 'Something went wrong.'
  return fields.length === 0 ? detail : `${detail} ${fields.join('; ')}.`
}

/** The error code an error page of {@link htmlErrorPages} names, for tests and support. */
export function problemCodeInPage(page: string): string | undefined {
  return /<code class="problem-code">([A-Z0-9_]+)<\/code>/.exec(page)?.[1]
}

/** Whether `request` sent JSON: a client of the API, which reads problem+json. */
export function sentJson(request: FastifyRequest): boolean {
  return request.headers['content-type']?.toLowerCase().startsWith('application/json') === true
}

// Mortar's handler sends a problem as a string; a mounted handler's (the dashboard's) is a stream.
async function text(payload: unknown): Promise<string> {
  if (typeof payload === 'string') return payload
  if (payload instanceof Readable) {
    const chunks: Buffer[] = []
    for await (const chunk of payload) chunks.push(Buffer.from(chunk as Uint8Array))
    return Buffer.concat(chunks).toString('utf8')
  }
  return Buffer.isBuffer(payload) ? payload.toString('utf8') : ''
}

function parsed(
  body: string,
  status: number,
): Partial<ProblemDetails> & Pick<ProblemDetails, 'status' | 'title'> {
  try {
    return JSON.parse(body) as ProblemDetails
  } catch {
    return { status, title: 'Something went wrong' }
  }
}

function isProblem(reply: FastifyReply): boolean {
  return String(reply.getHeader('content-type') ?? '').startsWith(PROBLEM_CONTENT_TYPE)
}

// The error may be the database's or the session's: the page is then shown without the cart,
// the inbox count or forms, rather than not at all. An error page is no page view: a scan of
// made-up paths would count as visits.
async function chromeOrBare(options: StorefrontOptions): Promise<PageChrome> {
  const { pageView: _untracked, ...untracked } = options
  try {
    return await pageChrome(untracked)
  } catch {
    return {
      principal: safely(currentPrincipal),
      cartCount: 0,
      unread: 0,
      csrfToken: '',
      tail: html``,
      query: '',
      notice: undefined,
      alert: undefined,
    }
  }
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}
