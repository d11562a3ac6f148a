import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MortarError } from './mortar-error.js'
import { toProblem } from './problem.js'

describe('toProblem', () => {
  it("keeps the problem's own members whatever an error's details name, and adds the rest", () => {
    const members = ['type', 'title', 'status', 'code', 'detail', 'instance', 'requestId']
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...members, 'id', 'field'), fc.jsonValue()),
        (details) => {
          const error = new MortarError('E_X', 409, 'Delivery d-1 is sent.', { details })
          const { body } = toProblem(error, { instance: '/x', requestId: 'r-1' })
          expect(body).toMatchObject({
            type: 'about:blank',
            title: 'Conflict',
            status: 409,
            code: 'E_X',
            detail: 'Delivery d-1 is sent.',
            instance: '/x',
            requestId: 'r-1',
          })
          for (const name of ['id', 'field']) {
            if (name in details) expect(body[name as keyof typeof body]).toEqual(details[name])
          }
        },
      ),
    )
  })

  it('renders a MortarError whose status is not a 4xx or 5xx as a 500 that shows nothing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -1000, max: 2000 }),
          fc.double(),
          fc.constantFrom(0, 200, 204, 302, 399, 600, 999, 404.5, Number.NaN),
        ),
        (status) => {
          const problem = toProblem(new MortarError('E_ODD', status, 'internal rule 17'))
          if (Number.isInteger(status) && status >= 400 && status <= 599) {
            expect(problem.status).toBe(status)
          } else {
            expect(problem).toMatchObject({ status: 500, body: { code: 'E_INTERNAL' } })
            expect(JSON.stringify(problem.body)).not.toContain('rule 17')
          }
        },
      ),
    )
  })
})
