import { describe, expect, it } from 'vitest'
import { inboxHandler } from '../channels/inbox/inbox-handler.js'

// An object whose toString is not a function: String() of it throws.
const UNPRINTABLE = { toString: [] } as unknown as number

describe('a refused notify option of any value', () => {
  it('gets the option’s own message, naming the value’s type', () => {
    const recipient = () => 'ada'
    expect(() => inboxHandler({ recipient, pollMs: UNPRINTABLE })).toThrow(/got object/)
    expect(() => inboxHandler({ recipient, maxStreamsPerRecipient: UNPRINTABLE })).toThrow(
      /got object/,
    )
  })
})
