import { describe, expect, it } from 'vitest'
import { PendingEvents } from './pending-events.js'

const event = (name: string) => ({
  name,
  properties: { name },
  at: 1_700_000_000_123,
  userId: `u-${name}`,
  details: undefined,
})

describe('PendingEvents', () => {
  it('gives a freed slot to the next event, with none of the old event left in it', () => {
    const pending = new PendingEvents()
    const first = pending.add(event('a'))
    pending.json[first] = '{"name":"a"}'
    pending.stored[first] = '{"name":"a"}'
    pending.release([first])
    const second = pending.add(event('b'))
    expect(second).toBe(first)
    expect(pending.names[second]).toBe('b')
    expect(pending.json[second]).toBeUndefined()
    expect(pending.stored[second]).toBeUndefined()
  })

  it('frees a slot released twice only once, so two events never share it', () => {
    const pending = new PendingEvents()
    const slot = pending.add(event('a'))
    pending.release([slot])
    pending.release([slot])
    const slots = [pending.add(event('b')), pending.add(event('c'))]
    expect(new Set(slots).size).toBe(2)
    expect(slots.map((s) => pending.names[s])).toEqual(['b', 'c'])
  })
})
