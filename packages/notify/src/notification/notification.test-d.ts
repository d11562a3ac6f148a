import { z } from 'zod'
import type { ChannelMessages, ChannelName } from '../channels/channel.js'
import { defineNotification } from './define-notification.js'
import type { ChannelsOf, CheckNotification } from './notification.js'
import { Notification } from './notification.js'
import type { Notifier } from './notifier.js'
import type { Recipient } from './recipient.js'

declare const notifier: Notifier
declare const user: Recipient

// A notification with a renderer for every channel via() can return is accepted.
class OrderShipped extends Notification {
  via(recipient: Recipient) {
    return recipient.phone ? (['mail', 'sms'] as const) : (['mail'] as const)
  }
  toMail() {
    return { subject: 'Shipped', text: 'On its way.' }
  }
  toSms() {
    return { text: 'On its way.' }
  }
}
void notifier.notify(user, new OrderShipped())
void notifier.notify([user, user], new OrderShipped())

// Async renderers are fine.
class Welcome extends Notification {
  via() {
    return ['inbox'] as const
  }
  async toInbox() {
    return { title: 'Welcome' }
  }
}
void notifier.notify(user, new Welcome())

// Leaving out toSms while via() can return 'sms' does not compile, in words.
class MissingSms extends Notification {
  via() {
    return ['mail', 'sms'] as const
  }
  toMail() {
    return { subject: 'Hello' }
  }
}
// @ts-expect-error via() can return 'sms' but the notification has no toSms()
void notifier.notify(user, new MissingSms())
const missing: CheckNotification<MissingSms> =
  "via() can return 'sms' but the notification has no toSms()"
void missing

// A renderer that returns the wrong message does not compile.
class WrongMail extends Notification {
  via() {
    return ['mail'] as const
  }
  toMail() {
    return { title: 'no subject' }
  }
}
// @ts-expect-error toMail() must return ChannelMessages['mail']
void notifier.notify(user, new WrongMail())

// via() must name known channels.
class Fax extends Notification {
  // @ts-expect-error 'fax' is not a channel
  via() {
    return ['fax'] as const
  }
}
void Fax

// A typed recipient: via() takes the app's own user type, and notify() asks for it.
interface Customer extends Recipient {
  readonly vip: boolean
}
class VipOffer extends Notification<Customer> {
  via(customer: Customer) {
    return customer.vip ? (['mail'] as const) : ([] as const)
  }
  toMail(customer: Customer) {
    return { subject: customer.vip ? 'For you' : '' }
  }
}
declare const customer: Customer
void notifier.notify(customer, new VipOffer())
// @ts-expect-error a plain recipient is not a Customer
void notifier.notify(user, new VipOffer())
// @ts-expect-error a recipient needs an id
void notifier.notify({ email: 'a@b.c' }, new OrderShipped())

// ChannelsOf reads via()'s channels.
const channels: ChannelsOf<OrderShipped>[] = ['mail', 'sms']
// @ts-expect-error OrderShipped never goes to the inbox
const notInbox: ChannelsOf<OrderShipped> = 'inbox'
void channels
void notInbox

// defineNotification: every channel via can return needs its renderer.
const Shipped = defineNotification({
  type: 'order.shipped',
  schema: z.object({ orderId: z.string() }),
  channels: ['mail', 'sms'],
  via: (recipient) => (recipient.phone ? ['mail', 'sms'] : ['mail']),
  toMail: (order) => ({ subject: `Order ${order.orderId}` }),
  toSms: (order, recipient) => ({ text: `${order.orderId} to ${recipient.phone}` }),
})
void notifier.notify(user, new Shipped({ orderId: 'o-1' }))
// @ts-expect-error the data must fit the schema
void new Shipped({ orderId: 1 })

// @ts-expect-error Property 'toSms' is missing
defineNotification({
  type: 'order.shipped',
  schema: z.object({ orderId: z.string() }),
  channels: ['mail', 'sms'],
  toMail: (order) => ({ subject: `Order ${order.orderId}` }),
})

defineNotification({
  type: 'order.shipped',
  schema: z.object({ orderId: z.string() }),
  channels: ['inbox'],
  // @ts-expect-error an inbox item has a title
  toInbox: () => ({ body: 'no title' }),
})

defineNotification({
  type: 'order.shipped',
  schema: z.object({ orderId: z.string() }),
  channels: ['mail'],
  // @ts-expect-error via picks among the declared channels only
  via: () => ['sms'],
  toMail: (order) => ({ subject: `Order ${order.orderId}` }),
})

// Plugins add channels by declaration merging (checked here with a local stand-in).
type WithPush = ChannelMessages & { push: { title: string } }
const pushName: keyof WithPush = 'push'
const known: ChannelName = 'webhook'
void pushName
void known
