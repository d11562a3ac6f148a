import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toProblem } from '../../errors/index.js'
import { normalizeHttpError } from './normalize-http-error.js'

const statusOf = (error: unknown) => toProblem(normalizeHttpError(error)).status

// Any value a dependency's error might carry in the fields an HTTP framework's errors use.
const anyField = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.integer({ min: 400, max: 499 }),
  fc.constantFrom(400, 402, 404, 409, 413, 415, 422),
  fc.string(),
  fc.boolean(),
  fc.constant(undefined),
)

describe('normalizeHttpError', () => {
  it('renders any error not meant for the client as a 500, whatever status it carries', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            statusCode: anyField,
            status: anyField,
            code: fc.oneof(
              fc.string().filter((code) => !code.startsWith('FST_')),
              fc.constantFrom('ENOTFOUND', 'entity.parse.failed', 'card_declined'),
            ),
            type: fc.oneof(fc.string(), fc.constantFrom('entity.parse.failed', 'StripeCardError')),
            expose: fc.oneof(
              fc.constant(false),
              fc.constant(undefined),
              fc.constant('true'),
              fc.constant(1),
            ),
            validation: fc.constant([]),
          },
          { requiredKeys: [] },
        ),
        (fields) => {
          expect(statusOf(Object.assign(new Error('from a dependency'), fields))).toBe(500)
        },
      ),
    )
  })

  it("keeps the 4xx of Fastify's own errors and of http-errors' exposed ones, with a safe message", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 499 }),
        fc.boolean(),
        fc.string(),
        (status, fastify, message) => {
          const fields = fastify
            ? { code: 'FST_ERR_SOMETHING', statusCode: status }
            : { status, statusCode: status, expose: true }
          const problem = toProblem(normalizeHttpError(Object.assign(new Error(message), fields)))
          expect(problem.status).toBe(status)
          expect(problem.body.detail).not.toBe(message === '' ? undefined : message)
        },
      ),
    )
  })
})

describe('normalizeHttpError on a path the router cannot decode', () => {
  it("keeps the 400 of Express's router (a URIError with status 400) and of Fastify's FST_ERR_BAD_URL", () => {
    const router = Object.assign(new URIError("Failed to decode param '%ZZ'"), {
      status: 400,
      statusCode: 400,
    })
    const fastify = Object.assign(new Error("'/items/%ZZ' is not a valid url component"), {
      code: 'FST_ERR_BAD_URL',
      statusCode: 400,
    })
    for (const error of [router, fastify]) {
      const problem = toProblem(normalizeHttpError(error))
      expect(problem.status).toBe(400)
      expect(problem.body.detail).toMatch(/malformed percent-escape/)
      expect(problem.body.detail).not.toContain('%ZZ')
    }
  })

  it("renders the app's own URIError, which carries no status, as a 500", () => {
    let thrown: unknown
    try {
      decodeURIComponent('%ZZ')
    } catch (error) {
      thrown = error
    }
    expect(statusOf(thrown)).toBe(500)
  })
})
