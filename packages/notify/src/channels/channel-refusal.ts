import { thrownText } from '@mortar/core'
import type { AnyChannel } from './channel.js'

/**
 * Why `channel` refuses `message` to `address` (its `validate`), `undefined` when it takes it.
 * A check that throws (a schema's parse), answers something else than a reason or `undefined`,
 * or an empty reason refuses it too, saying so: a throw failed the whole `notify()`, every
 * channel with it, and a reason not as text the ledger's write.
 */
export function refusal(
  channel: Pick<AnyChannel, 'name'> & { validate?(message: never, to: string): unknown },
  message: unknown,
  address: string,
): string | undefined {
  let answer: unknown
  try {
    answer = channel.validate?.(message as never, address)
  } catch (error) {
    return `the '${channel.name}' channel's validate() threw: ${thrownText(error)}`
  }
  if (answer === undefined) return undefined
  if (typeof answer !== 'string') {
    const what =
      answer === null ? 'null' : Array.isArray(answer) ? 'an array' : `a ${typeof answer}`
    return `the '${channel.name}' channel's validate() returned ${what}, not a reason nor undefined: refused`
  }
  return answer.trim() === ''
    ? `the '${channel.name}' channel refused the message without saying why`
    : answer
}
