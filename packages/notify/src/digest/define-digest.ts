import { hasLoneSurrogate, ValidationError } from '@mortar/core'
import { NotifyConfigError } from '../errors.js'
import type { z } from 'zod'
import type { ChannelMessages, ChannelName, RendererName } from '../channels/channel.js'
import type { DigestEntry, RenderContext } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { isChannelName, NOT_A_NAME, rendererName, shownName } from '../notification/render.js'
import { isTimeOfDay } from '../preferences/quiet-hours.js'

const MAX_MINUTES = 366 * 24 * 60

/** When a digest batch goes out: a window after its first item, or a fixed local time of day. */
export type DigestWindow = { readonly minutes: number } | { readonly at: string }

type AllDigestRenderers<S extends z.ZodType> = {
  readonly [K in ChannelName as RendererName<K>]: (
    items: readonly z.output<S>[],
    recipient: Recipient,
    context: RenderContext,
  ) => ChannelMessages[K] | Promise<ChannelMessages[K]>
}

/** One renderer per channel of the digest, taking every item of the batch. */
export type DigestRenderers<S extends z.ZodType, C extends ChannelName> = {
  readonly [P in RendererName<C>]: AllDigestRenderers<S>[P & keyof AllDigestRenderers<S>]
}

/** The options of {@link defineDigest} besides the renderers. */
export interface DigestDefinition<S extends z.ZodType, C extends ChannelName> {
  /** Unique among the app's digests, 1 to 100 characters, no `|`; stored with each batch, so keep it stable. */
  readonly key: string
  /** Validates each item when it joins a batch. */
  readonly schema: S
  /** `{ minutes: 60 }`: an hour after the batch's first item; `{ at: '08:00' }`: at 8 in the recipient's time zone. */
  readonly window: DigestWindow
  /** The category the digest's own deliveries are sent under (preferences, throttles). */
  readonly category?: string
  /** The channels the digest goes out on; each needs its renderer. */
  readonly channels: readonly C[]
}

/** A digest made by {@link defineDigest}. */
export interface Digest<S extends z.ZodType = z.ZodType, C extends ChannelName = ChannelName> {
  readonly key: string
  readonly window: DigestWindow
  readonly category: string | undefined
  readonly channels: readonly C[]
  readonly schema: S
  /** A notification's `digest` field: this item joins the recipient's open batch of this digest. */
  entry(item: z.input<S>): DigestEntry
  /** Renders the batch for `channel`. */
  render(
    channel: C,
    items: readonly unknown[],
    recipient: Recipient,
    context: RenderContext,
  ): unknown
}

/**
 * Defines a digest: notifications that name it collect, per recipient, into one open batch (a
 * unique row, so two concurrent triggers never open two) that goes out as one message when its
 * window closes. Register it with the notify module (`digests: [commentDigest]`).
 *
 * @example
 * ```ts
 * import { defineDigest, Notification } from '@mortar/notify'
 * import { z } from 'zod'
 *
 * export const commentDigest = defineDigest({
 *   key: 'comments',
 *   schema: z.object({ author: z.string(), text: z.string() }),
 *   window: { minutes: 60 },
 *   channels: ['mail'],
 *   toMail: (items) => ({
 *     subject: `${items.length} new comments`,
 *     text: items.map((c) => `${c.author}: ${c.text}`).join('\n'),
 *   }),
 * })
 *
 * export class NewComment extends Notification {
 *   readonly digest
 *   constructor(author: string, text: string) {
 *     super()
 *     this.digest = commentDigest.entry({ author, text })
 *   }
 *   via() {
 *     return [] as const // goes out in the digest only
 *   }
 * }
 * ```
 */
export function defineDigest<S extends z.ZodType, const C extends ChannelName>(
  definition: DigestDefinition<S, C> & DigestRenderers<S, C>,
): Digest<S, C> {
  const { key, schema, window, channels, category } = definition
  // Stored as given in its batches and its deliveries' type, and printed by the CLI.
  if (
    typeof key !== 'string' ||
    key.trim() === '' ||
    key.length > 100 ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    /[\u0000-\u001f\u007f-\u009f]/.test(key) ||
    hasLoneSurrogate(key)
  ) {
    throw new NotifyConfigError(
      'defineDigest needs a key of 1 to 100 characters, without control characters.',
    )
  }
  // A batch's open key is `digest|recipient`, split at its first '|': with one in a digest's key,
  // 'alerts' for 'ops|eve' and 'alerts|ops' for 'eve' would be one batch, sent to one of them.
  if (key.includes('|')) {
    throw new NotifyConfigError(`Digest '${key}': a key may not hold a '|'.`)
  }
  if ('minutes' in window) {
    // A year at most: a batch's close must be a date (past 8.64e15 ms it is none).
    if (!(Number.isFinite(window.minutes) && window.minutes > 0 && window.minutes <= MAX_MINUTES)) {
      throw new NotifyConfigError(
        `Digest '${key}': window.minutes must be a positive number of at most ${MAX_MINUTES} (a year).`,
      )
    }
  } else if (typeof window.at !== 'string' || !isTimeOfDay(window.at)) {
    throw new NotifyConfigError(`Digest '${key}': window.at must be a time of day as HH:MM.`)
  }
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new NotifyConfigError(`Digest '${key}' needs at least one channel.`)
  }
  const invalid = channels.find((name) => !isChannelName(name))
  if (invalid !== undefined) {
    throw new NotifyConfigError(
      `Digest '${key}': its channels hold ${shownName(invalid)}, ${NOT_A_NAME}.`,
    )
  }
  return Object.freeze({
    key,
    window,
    category,
    channels,
    schema,
    entry(item: z.input<S>): DigestEntry {
      const parsed = schema.safeParse(item)
      if (!parsed.success)
        throw ValidationError.fromZod(parsed.error, `Digest '${key}' got an invalid item.`)
      return { key, item: parsed.data }
    },
    render(
      channel: C,
      items: readonly unknown[],
      recipient: Recipient,
      context: RenderContext,
    ): unknown {
      const name = rendererName(channel)
      const renderer = (definition as unknown as Record<string, unknown>)[name]
      if (typeof renderer !== 'function')
        throw new NotifyConfigError(`Digest '${key}' has no ${name}()`)
      return renderer(items, recipient, context)
    },
  })
}
