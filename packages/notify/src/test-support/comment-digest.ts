import { z } from 'zod'
import { defineDigest } from '../digest/define-digest.js'
import { Notification } from '../notification/notification.js'

/** The tests' digest: new comments collected `minutes` long, then sent as one mail. */
export const commentsDigest = (minutes: number) =>
  defineDigest({
    key: 'comments',
    schema: z.object({ text: z.string() }),
    window: { minutes },
    channels: ['mail'],
    toMail: (items) => ({
      subject: `${items.length} new comments`,
      text: items.map((item) => item.text).join('\n'),
    }),
  })

export const commentDigest = commentsDigest(30)

/** A notification that goes out only through {@link commentDigest}. */
export class NewComment extends Notification {
  readonly type = 'comment.new'
  readonly digest
  constructor(text: string) {
    super()
    this.digest = commentDigest.entry({ text })
  }
  via() {
    return [] as const
  }
}
