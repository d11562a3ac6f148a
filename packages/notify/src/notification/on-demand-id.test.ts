import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { route } from './recipient.js'

// The parts of an on-demand id were joined by '|' unescaped: an address holding '|sms:…' made
// the id of another recipient, who then shared its idempotency keys, throttles and digest batch
// (one's items mailed to the other's addresses).
describe('on-demand recipient ids', () => {
  it('differ for recipients whose addresses differ, whatever the addresses hold', () => {
    expect(route('mail', 'a@b.c|sms:+1555').id).not.toBe(
      route('mail', 'a@b.c').route('sms', '+1555').id,
    )
    const address = fc.string({
      minLength: 1,
      maxLength: 12,
      unit: fc.constantFrom('a', '|', 's', 'm', ':', '%', '7', 'C', '+', '1'),
    })
    const routes = fc
      .record({ mail: address, sms: address, chat: address }, { requiredKeys: [] })
      .filter(
        (chosen) =>
          Object.keys(chosen).length > 0 && Object.values(chosen).every((a) => a.trim() !== ''),
      )
    const recipient = (chosen: Record<string, string>) => {
      const [first, ...rest] = Object.entries(chosen) as [never, string][]
      const [channel, address] = first as [never, string]
      return rest.reduce((r, [name, to]) => r.route(name, to), route(channel, address))
    }
    // The id reads back as the routes it was made of: no two recipients share one.
    const routesOf = (id: string) =>
      Object.fromEntries(
        id
          .slice('route:'.length)
          .split('|')
          .map((part) => {
            const colon = part.indexOf(':')
            const address = part
              .slice(colon + 1)
              .replaceAll('%7C', '|')
              .replaceAll('%25', '%')
            return [part.slice(0, colon), address]
          }),
      )
    fc.assert(
      fc.property(routes, (chosen) => {
        expect(routesOf(recipient(chosen).id)).toEqual(chosen)
      }),
      { numRuns: 1_000 },
    )
  })

  it('keep the form of an address without | or %', () => {
    expect(route('mail', 'ops@example.com').route('sms', '+15550199').id).toBe(
      'route:mail:ops@example.com|sms:+15550199',
    )
  })
})
