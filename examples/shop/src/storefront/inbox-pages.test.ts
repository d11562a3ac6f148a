import { INBOX } from '@mortar/notify'
import { describe, expect, it } from 'vitest'
import { inputValue } from '../testing/html-form.js'
import { signUpShopper } from '../testing/shopper.js'
import { useTestShop } from '../testing/test-shop.js'

describe('the inbox page', () => {
  const shop = useTestShop()

  it('opens an old item at its link, however many read items came after it', async () => {
    const shopper = await signUpShopper(shop().base, 'reader')
    const inbox = shop().app.resolve(INBOX)
    const item = (n: number) => ({
      id: `item-${String(n).padStart(3, '0')}`,
      recipientId: shopper.userId,
      type: 'note',
      message: { title: `Note ${n}`, url: `/store/orders?note=${n}` },
    })
    for (let n = 0; n <= 120; n++) await inbox.add(item(n))
    const { marker } = await inbox.list(shopper.userId, { limit: 1 })
    await inbox.markAllRead(shopper.userId, { upTo: marker })
    const page = await shopper.jar.request('GET', '/store/inbox')
    const csrf = new URLSearchParams({ _csrf: inputValue(page.text, '_csrf') ?? '' })
    for (const n of [0, 60, 120]) {
      const opened = await shopper.jar.request('POST', `/store/inbox/${item(n).id}/open`, csrf)
      expect(`${n} ${opened.status} ${opened.headers.get('location')}`).toBe(
        `${n} 303 /store/orders?note=${n}`,
      )
    }
  })
})
