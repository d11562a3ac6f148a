import { requestContext, transaction } from '@mortar/core'
import {
  type ChannelName,
  decidePreference,
  INBOX,
  type InboxItem,
  PREFERENCES,
} from '@mortar/notify'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requirePrincipal } from '../accounts/index.js'
import { OPTIONAL_CATEGORIES } from '../notifications/index.js'
import { parseInput } from '../validation/index.js'
import { when } from './format.js'
import { type Html, html } from './html.js'
import { csrfField, layout, type PageChrome } from './layout.js'
import { flash, isLocalPath, page, pageChrome, type StorefrontOptions, seeOther } from './page.js'

/** The channels a customer turns on or off per category. */
const CHOSEN_CHANNELS = ['mail', 'sms', 'inbox'] as const satisfies readonly ChannelName[]

const CHANNEL_LABEL: Readonly<Record<(typeof CHOSEN_CHANNELS)[number], string>> = {
  mail: 'Email',
  sms: 'Text message (needs a number and your agreement above)',
  inbox: 'Inbox on this site',
}

const CATEGORY_LABEL: Readonly<Record<(typeof OPTIONAL_CATEGORIES)[number], string>> = {
  shipping: 'Shipping updates',
}

const itemParams = z.object({ id: z.string().min(1).max(64) })
const readAllForm = z.object({ upTo: z.string().min(1).max(64) })
const preferenceForm = z.record(z.string().max(64), z.string().max(8))

function inboxRow(item: InboxItem, chrome: PageChrome): Html {
  return html`<li class="card${item.status === 'unread' ? ' unread' : ''}">
    <form method="post" action="/store/inbox/${item.id}/open" class="row">
      ${csrfField(chrome)}
      <button class="link">${item.title}</button>
    </form>
    ${item.body === undefined ? '' : html`<p>${item.body}</p>`}
    <p class="muted">${when(item.createdAt.toISOString())}${item.status === 'unread' ? ' · unread' : ''}</p>
  </li>`
}

/**
 * The customer's side of `@mortar/notify`, in HTML:
 *
 * - `GET /store/inbox`: the in-app inbox, newest first, unread items marked;
 * - `POST /store/inbox/:id/open`: marks one item read and goes to its page;
 * - `POST /store/inbox/read-all`: marks read every item committed by the page's read (its
 *   `upTo` field, the page's marker), so one that arrived after the page loaded stays unread;
 * - `POST /store/account/notifications`: which channels shipping updates use (order
 *   confirmations always go out), the form being a section of the account page
 *   ({@link notificationPreferencesSection}).
 *
 * Every item is looked up under the logged-in user's id, so another user's item id does nothing.
 */
export async function notificationPages(
  server: FastifyInstance,
  options: StorefrontOptions,
): Promise<void> {
  server.get(
    '/inbox',
    page(async () => {
      const me = requirePrincipal()
      const { items, marker } = await requestContext().resolve(INBOX).list(me.id, { limit: 50 })
      const chrome = await pageChrome(options)
      return layout(
        'Inbox',
        chrome,
        items.length === 0
          ? html`<p>Nothing here yet.</p>`
          : html`<form method="post" action="/store/inbox/read-all">${csrfField(chrome)}<input type="hidden" name="upTo" value="${marker}"><button id="read-all">Mark all read</button></form>
            <ul class="stack" id="inbox">${items.map((item) => inboxRow(item, chrome))}</ul>`,
      )
    }),
  )

  server.post(
    '/inbox/:id/open',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const { id } = parseInput(itemParams, request.params)
      const inbox = requestContext().resolve(INBOX)
      await inbox.markRead(me.id, [id])
      // The item's link only when it is one of this user's and leads to one of the shop's pages.
      // Looked up by its id: among the newest read items, an older one lost its link.
      const url = (await inbox.get(me.id, id))?.url
      return seeOther(reply, isLocalPath(url) ? url : '/store/inbox')
    }),
  )

  server.post(
    '/inbox/read-all',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const { upTo } = parseInput(readAllForm, request.body)
      await requestContext().resolve(INBOX).markAllRead(me.id, { upTo })
      return seeOther(reply, '/store/inbox')
    }),
  )

  server.post(
    '/account/notifications',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const form = parseInput(preferenceForm, request.body)
      const preferences = requestContext().resolve(PREFERENCES)
      // One transaction: the form is one choice, so a failure on any channel saves none of it,
      // never a mix of the old settings and the new that the visitor did not choose.
      await transaction(async () => {
        for (const category of OPTIONAL_CATEGORIES) {
          for (const channel of CHOSEN_CHANNELS) {
            // An unticked box is absent from the form: that channel is off.
            const enabled = form[`${category}.${channel}`] === 'on'
            await preferences.set(me.id, { category, channel, enabled })
          }
        }
      })
      await flash(options, 'Notification settings saved.')
      return seeOther(reply, '/store/account')
    }),
  )
}

/** The account page's section that chooses the channels of each optional category. */
export async function notificationPreferencesSection(
  chrome: PageChrome,
  userId: string,
): Promise<Html> {
  const entries = await requestContext().resolve(PREFERENCES).list(userId)
  const boxes = OPTIONAL_CATEGORIES.map(
    (category) => html`<fieldset><legend>${CATEGORY_LABEL[category]}</legend>
      ${CHOSEN_CHANNELS.map((channel) => {
        const on = decidePreference(category, channel, {}, entries).send
        return html`<label class="row"><input type="checkbox" name="${category}.${channel}" ${on ? 'checked' : ''}> ${CHANNEL_LABEL[channel]}</label>`
      })}
    </fieldset>`,
  )
  return html`<section id="notification-settings"><h2>Notifications</h2>
    <p class="muted">Order confirmations always go out by email and to your inbox.</p>
    <form method="post" action="/store/account/notifications" class="stack">
      ${csrfField(chrome)}
      ${boxes}
      <button>Save notification settings</button>
    </form></section>`
}
