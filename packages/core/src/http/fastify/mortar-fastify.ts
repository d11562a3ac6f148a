import type { ServerResponse } from 'node:http'
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify'
import {
  currentRequestContext,
  hasBeforeResponseHooks,
  RequestContext,
  runBeforeResponseHooks,
  runInRequestContext,
  runRequestStartHooks,
} from '../../context/index.js'
import { NotFoundError } from '../../errors/index.js'
import type { Logger } from '../../logger/logger.js'
import {
  type AdapterApp,
  firstHeader,
  REQUEST_ID_HEADER,
  renderHttpError,
} from '../shared/index.js'
import { FastifyHttpExchange } from './fastify-http-exchange.js'

/**
 * Options of {@link mortarFastify}.
 *
 * @example
 * ```ts
 * import type { MortarFastifyOptions } from '@mortar/core/fastify'
 *
 * const options: MortarFastifyOptions = { app }
 * await fastify.register(mortarFastify, options)
 * ```
 */
export interface MortarFastifyOptions {
  /** The app whose scope and logger each request uses. */
  readonly app: AdapterApp
}

const kContext = Symbol('mortar.context')

// Replies that carry a problem this adapter rendered: before-response hooks are for successful
// results only. Added to only on the error path, so the happy path pays nothing for it.
const problems = new WeakSet<FastifyReply>()

interface MortarRequest extends FastifyRequest {
  [kContext]: RequestContext | null
}

// Per-request state also sits on the raw response, so that one shared 'close' listener (called
// with the response as `this`) serves every request without a closure of its own.
interface MortarResponse extends ServerResponse {
  [kContext]?: RequestContext
}

/**
 * A Fastify plugin that gives every request a Mortar request context (request id, scope, slots),
 * echoes `x-request-id`, and renders every error and unknown route as problem+json. It is not
 * encapsulated, so it covers the routes of the instance it is registered on and its children.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { createApp, requestContext } from '@mortar/core'
 * import { mortarFastify } from '@mortar/core/fastify'
 *
 * const app = createApp({ modules: [] })
 * await app.start()
 * const fastify = Fastify()
 * await fastify.register(mortarFastify, { app })
 * fastify.get('/me', async () => ({ requestId: requestContext().requestId }))
 * await fastify.listen({ port: 3000 })
 * ```
 */
export function mortarFastify(
  fastify: FastifyInstance,
  options: MortarFastifyOptions,
  done: (error?: Error) => void,
): void {
  const { app } = options
  if (typeof app?.createScope !== 'function') {
    done(
      new TypeError(
        'mortarFastify needs { app }: register it with fastify.register(mortarFastify, { app }).',
      ),
    )
    return
  }
  const createScope = () => app.createScope()
  const logger = app.logger
  // Made once per registration, not per request: 'close' listeners get the response as `this`.
  const onResponseClose = function (this: MortarResponse): void {
    const context = this[kContext]
    if (context === undefined) return
    if (!this.writableFinished) context.abort()
    if (!context.hasScope) return
    context.dispose().catch((error: unknown) => {
      logger.error(
        { err: error, requestId: context.requestId },
        'Disposing the request scope failed',
      )
    })
  }

  fastify.decorateRequest(kContext, null)

  // The approach of @fastify/request-context: open the context around the rest of the hook chain,
  // and re-enter it in preValidation, since the body may be parsed in a stream callback outside
  // it. The store is kept on the request, so re-entering is a plain run(), not an AsyncResource.
  // Modules' request-start hooks run in preValidation too: it is in the context anyway, and
  // onRequest stays free of a closure per request.
  fastify.addHook(
    'onRequest',
    (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => {
      const headers = request.headers
      const context = new RequestContext({
        requestId: firstHeader(headers[REQUEST_ID_HEADER]),
        ip: request.ip,
        userAgent: headers['user-agent'],
        acceptLanguage: headers['accept-language'],
        http: new FastifyHttpExchange(request, reply),
        createScope,
      })
      ;(request as MortarRequest)[kContext] = context
      const raw = reply.raw as MortarResponse
      raw[kContext] = context
      // 'close' follows 'finish', or comes alone when the client went away: one listener does
      // the work of onResponse and onRequestAbort hooks at less cost per request.
      raw.on('close', onResponseClose)
      reply.header(REQUEST_ID_HEADER, context.requestId)
      runInRequestContext(context, next)
    },
  )

  fastify.addHook(
    'preValidation',
    (request: FastifyRequest, _reply: FastifyReply, next: HookHandlerDoneFunction) => {
      const context = (request as MortarRequest)[kContext]
      if (context === null) next()
      else if (currentRequestContext() === context) startRequest(app, context, next)
      else runInRequestContext(context, () => startRequest(app, context, next))
    },
  )

  // Modules' before-response hooks (auth's verify-authorized) see every successful result before
  // it is sent, whatever its type: onSend, because preSerialization skips strings and buffers.
  // The app may get its hooks after this registration (in a module's onStart), so the check is
  // made per request; without hooks it is one WeakMap lookup. A hook that throws goes to the
  // error handler, whose problem replaces the payload.
  fastify.addHook(
    'onSend',
    (request: FastifyRequest, reply: FastifyReply, _payload: unknown, next: OnSendDone) => {
      const context = (request as MortarRequest)[kContext]
      if (!hasBeforeResponseHooks(app) || context === null || problems.has(reply)) next()
      else if (currentRequestContext() === context) checkResponse(app, context, next)
      else runInRequestContext(context, () => checkResponse(app, context, next))
    },
  )

  fastify.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    sendProblem(error, request as MortarRequest, reply, logger)
  })

  fastify.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const error = new NotFoundError('No route matches this method and path.')
    sendProblem(error, request as MortarRequest, reply, logger)
  })

  done()
}

// What fastify-plugin does, without depending on it: run in the parent's scope, under a name.
Object.defineProperty(mortarFastify, Symbol.for('skip-override'), { value: true })
Object.defineProperty(mortarFastify, Symbol.for('fastify.display-name'), { value: 'mortar' })

// Runs the modules' request-start hooks (session, principal) before any handler; a failing hook
// goes to the error handler.
function startRequest(
  app: AdapterApp,
  context: RequestContext,
  next: HookHandlerDoneFunction,
): void {
  const started = runRequestStartHooks(app, context)
  if (started === undefined) next()
  else started.then(() => next(), next)
}

type OnSendDone = (error?: Error | null) => void

function checkResponse(app: AdapterApp, context: RequestContext, next: OnSendDone): void {
  let checked: Promise<void> | undefined
  try {
    checked = runBeforeResponseHooks(app, context)
  } catch (error) {
    next(asError(error))
    return
  }
  if (checked === undefined) next()
  else
    checked.then(
      () => next(),
      (error: unknown) => next(asError(error)),
    )
}

// Fastify treats a falsy or non-Error rejection as "no error": wrap it so it still fails.
function asError(error: unknown): Error {
  return error instanceof Error
    ? error
    : new Error('A before-response hook failed.', { cause: error })
}

function sendProblem(
  error: unknown,
  request: MortarRequest,
  reply: FastifyReply,
  logger: Logger,
): void {
  problems.add(reply)
  // An error raised before onRequest (a malformed URL) has no context yet: give it an id anyway.
  const requestId = request[kContext]?.requestId ?? contextlessId(request)
  const problem = renderHttpError(error, {
    logger,
    requestId,
    method: request.method,
    url: request.url,
  })
  reply
    .code(problem.status)
    .headers(problem.headers)
    .header(REQUEST_ID_HEADER, requestId)
    .send(JSON.stringify(problem.body))
}

function contextlessId(request: FastifyRequest): string {
  return new RequestContext({
    requestId: firstHeader(request.headers[REQUEST_ID_HEADER]),
    createScope: noScope,
  }).requestId
}

function noScope(): never {
  throw new Error('This request failed before Mortar opened its context; it has no scope.')
}
