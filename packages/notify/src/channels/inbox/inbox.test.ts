import {
  createLogger,
  DATABASE,
  databaseToken,
  RequestContext,
  runInRequestContext,
} from '@mortar/core'
import {
  createTestApp,
  type EngineApp,
  startEngineApp,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inboxTestModule } from '../../test-support/inbox-test-module.js'
import { notifyAppOn } from '../../test-support/notify-test-app.js'
import { INBOX, InboxChannel, inboxChannel } from './inbox-channel.js'
import { notifyModule } from '../../module/notify-module.js'
import { type InboxHandlerOptions, inboxHandler } from './inbox-handler.js'
import { Inbox, type InboxChange } from './inbox-store.js'
import { STREAM_LOOKBACK_MS } from './inbox-stream.js'
import { versionMarker } from './inbox-marker.js'

for (const engine of testEngines()) {
  // Skipped only when the engine's server variable is unset (printed); CI sets every variable.
  if (engine.skip) console.info(`[skipped] inbox on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`the in-app inbox on ${engine.title}`, () => {
    let started: EngineApp<TestApp> | undefined
    let app: TestApp
    let inbox: Inbox

    beforeAll(async () => {
      started = await startEngineApp(engine, (url) =>
        createTestApp({ database: url, modules: [inboxTestModule] }),
      )
      app = started.app
      inbox = app.resolve(INBOX)
    })
    afterAll(() => started?.dispose())

    function as(
      recipientId: string | undefined,
      url: string,
      init?: RequestInit,
      options: Partial<InboxHandlerOptions> = {},
    ) {
      const handler = inboxHandler({ recipient: () => recipientId, pollMs: 50, ...options })
      const context = new RequestContext({ createScope: () => app.createScope() })
      return runInRequestContext(context, () => handler(new Request(`http://x${url}`, init)))
    }

    /** The inbox of "another process": the same tables, changes this process never hears of. */
    const elsewhere = () => new Inbox(app.resolve(DATABASE), app.clock)

    it('adds an item per delivery id once, however often the channel sends it', async () => {
      const channel = new InboxChannel()
      await channel.open(app)
      const outgoing = {
        id: 'd-once',
        to: 'ada',
        recipientId: 'ada',
        type: 'order.shipped',
        message: {
          title: 'Shipped',
          body: 'Order o-1',
          url: '/orders/o-1',
          data: { orderId: 'o-1' },
        },
        attempt: 1,
        signal: new AbortController().signal,
      }
      expect(await channel.send(outgoing)).toEqual({
        status: 'accepted',
        providerMessageId: 'd-once',
      })
      expect(await channel.send({ ...outgoing, attempt: 2 })).toMatchObject({ status: 'accepted' })
      const page = await inbox.list('ada')
      expect(page.items).toHaveLength(1)
      expect(page.items[0]).toMatchObject({
        id: 'd-once',
        title: 'Shipped',
        body: 'Order o-1',
        url: '/orders/o-1',
        data: { orderId: 'o-1' },
        status: 'unread',
      })
    })

    it('announces to live streams only an item it stored, never one whose id is already taken', async () => {
      const heard: { id: string; recipientId: string; title: string }[] = []
      const changes: InboxChange[] = []
      const stop = inbox.onChanged((change) => {
        changes.push(change)
        if (change.item === undefined) return
        const { id, recipientId, title } = change.item
        heard.push({ id, recipientId, title })
      })
      try {
        const add = (recipientId: string, title: string) =>
          inbox.add({ id: 'd-taken', recipientId, type: 't', message: { title } })
        await add('ada', 'First')
        // A retry of the same delivery, and another recipient's item under the same id: the
        // insert skips both, so the inbox holds only the first.
        await add('ada', 'Retried')
        await add('bob', 'Someone else')
        await app.resolve(DATABASE).transaction(() => add('ada', 'In a transaction'))
        expect(heard).toEqual([{ id: 'd-taken', recipientId: 'ada', title: 'First' }])
        // Each a change of a version, told in order: a stream knows there is no item in it.
        expect(changes.map((change) => change.recipientId)).toEqual(['ada', 'ada', 'bob', 'ada'])
        const ada = changes.filter((change) => change.recipientId === 'ada')
        expect(ada.map((change) => change.version)).toEqual(
          ada.map((_, n) => (ada[0]?.version ?? 0) + n),
        )
        expect((await inbox.get('ada', 'd-taken'))?.title).toBe('First')
        expect(await inbox.get('bob', 'd-taken')).toBeUndefined()
      } finally {
        stop()
      }
    })

    it('refuses an item link that is not a path of the app or an http(s) URL (it is rendered as a link)', async () => {
      const channel = new InboxChannel(inbox)
      const send = (url: string) =>
        channel.send({
          id: `u-${url}`,
          to: 'uma',
          recipientId: 'uma',
          type: 't',
          message: { title: 'Link', url },
          attempt: 1,
          signal: new AbortController().signal,
        })
      for (const url of [
        'javascript:alert(1)',
        ' JavaScript:alert(1)',
        'data:text/html,<script>alert(1)</script>',
        '//evil.example/login',
        '/\\evil.example',
        '/\t/evil.example',
        '/orders\n1',
        'orders/1',
        'mailto:a@example.com',
        `/${'x'.repeat(4096)}`,
      ]) {
        expect(channel.validate({ title: 'Link', url })).toMatch(/url/)
        expect(await send(url)).toMatchObject({ status: 'permanent' })
      }
      for (const url of [
        '/orders/o-1',
        '/store?tab=2#top',
        'https://example.com/a',
        'http://x.example',
      ]) {
        expect(channel.validate({ title: 'Link', url })).toBeUndefined()
      }
      expect((await inbox.list('uma')).items.map((item) => item.url)).toEqual([])
    })

    it('refuses an item id a stream cannot resume from, and text no column stores as given: a permanent failure, never a transient one retried', async () => {
      const item = (id: string, title = 'Hi') => ({
        id,
        recipientId: 'ida',
        type: 't',
        message: { title },
      })
      for (const id of ['x'.repeat(65), 'a\r\nevent: counts', 'a\u0000b', '']) {
        await expect(inbox.add(item(id))).rejects.toMatchObject({ code: 'E_VALIDATION' })
      }
      await inbox.add(item('y'.repeat(64)))
      const channel = new InboxChannel(inbox)
      for (const title of ['a\u0000b', 'x\uD800']) {
        await expect(inbox.add(item(`t-${title.length}`, title))).rejects.toMatchObject({
          code: 'E_VALIDATION',
        })
        expect(channel.validate({ title })).toMatch(/title/)
        expect(
          await channel.send({
            id: 'd-nul',
            to: 'ida',
            recipientId: 'ida',
            type: 't',
            message: { title },
            attempt: 1,
            signal: new AbortController().signal,
          }),
        ).toMatchObject({ status: 'permanent' })
      }
      expect(channel.validate({ title: 'ok', body: 'a\u0000' })).toMatch(/body/)
      expect((await inbox.list('ida')).items.map((i) => i.id)).toEqual(['y'.repeat(64)])
    })

    it('counts, marks read, marks all read and archives, only for the owner', async () => {
      for (let i = 0; i < 3; i++) {
        app.clock.advance(1_000)
        await inbox.add({
          id: `b-${i}`,
          recipientId: 'bob',
          type: 't',
          message: { title: `n${i}` },
        })
      }
      await inbox.add({ id: 'c-0', recipientId: 'carol', type: 't', message: { title: 'carol' } })
      expect(await inbox.counts('bob')).toMatchObject({ unread: 3, read: 0, archived: 0 })
      const { marker } = await inbox.list('bob')
      expect(await inbox.markRead('carol', ['b-0'])).toBe(0)
      expect(await inbox.markRead('bob', ['b-0', 'c-0'])).toBe(1)
      expect(await inbox.archive('bob', ['b-1'])).toBe(1)
      expect(await inbox.counts('bob')).toMatchObject({ unread: 1, read: 1, archived: 1 })
      expect(await inbox.markAllRead('bob', { upTo: marker })).toBe(1)
      expect(await inbox.counts('bob')).toMatchObject({ unread: 0, read: 2, archived: 1 })
      expect(await inbox.counts('carol')).toMatchObject({ unread: 1, read: 0, archived: 0 })
      expect(await inbox.markUnread('bob', ['b-2'])).toBe(1)
      expect((await inbox.list('bob', { status: 'unread' })).items.map((item) => item.id)).toEqual([
        'b-2',
      ])
    })

    it('marks all read only what the page’s read saw and the ids streamed since, never an item committed after, whatever its stamp', async () => {
      app.clock.advance(1_000)
      for (const id of ['k-1', 'k-3', 'k-2']) {
        await inbox.add({ id, recipientId: 'kim', type: 't', message: { title: id } })
      }
      const shown = await inbox.list('kim')
      expect(shown.items.map((item) => item.id)).toEqual(['k-3', 'k-2', 'k-1'])
      // Committed after the page was read: one stamped before its items (its transaction was in
      // flight, or its server's clock behind), one after.
      const now = app.clock.nowMs()
      app.clock.set(now - 500)
      await inbox.add({ id: 'k-0', recipientId: 'kim', type: 't', message: { title: 'late' } })
      app.clock.set(now + 1_000)
      await inbox.add({ id: 'k-5', recipientId: 'kim', type: 't', message: { title: 'new' } })
      await inbox.add({ id: 'x-1', recipientId: 'kit', type: 't', message: { title: 'kit' } })
      const json = { method: 'POST', headers: { 'content-type': 'application/json' } }
      // An item id (what "up to" was before markers), no marker at all, a bare version (what a
      // marker was before it was bound), another recipient's marker (a tab left signed in as
      // kit), one edited: a typed 400 that marks nothing. Before, kit's marked kim's items.
      const kits = (await inbox.list('kit')).marker
      const [version, tag] = shown.marker.split('.')
      for (const upTo of [
        'k-3',
        'x-1',
        '',
        '1.5',
        7,
        version,
        kits,
        `${Number(version) + 1}.${tag}`,
        versionMarker('kim', 999_999),
      ]) {
        const response = await as('kim', '/read-all', { ...json, body: JSON.stringify({ upTo }) })
        expect(response.status).toBe(400)
        expect(await response.json()).toMatchObject({ code: 'E_INBOX_MARKER' })
        expect(await inbox.counts('kim')).toMatchObject({ read: 0 })
      }
      const marked = await as('kim', '/read-all', {
        ...json,
        body: JSON.stringify({ upTo: shown.marker }),
      })
      // Before, k-0 was marked read too (stamped before the newest item shown), never seen.
      expect(await marked.json()).toEqual({ changed: 3 })
      const unread = async () =>
        (await inbox.list('kim', { status: 'unread' })).items.map((item) => item.id)
      expect(await unread()).toEqual(['k-5', 'k-0'])
      // k-5 came by a live stream: its id is passed, k-0 (not shown) stays unread.
      expect(await inbox.markAllRead('kim', { upTo: shown.marker, ids: ['k-5', 'x-1'] })).toBe(1)
      expect(await unread()).toEqual(['k-0'])
      expect(await inbox.counts('kit')).toMatchObject({ unread: 1, read: 0, archived: 0 })
      await expect(inbox.markAllRead('kim', { upTo: 'k-0' })).rejects.toMatchObject({
        code: 'E_INBOX_MARKER',
        status: 400,
      })
      await expect(inbox.markAllRead('kit', { upTo: shown.marker })).rejects.toMatchObject({
        code: 'E_INBOX_MARKER',
      })
    })

    it('versions its counts, so an answer that arrives late is known to be older: counts of one version are the same', async () => {
      // Adds and reads of the counts at once: each read's counts are of its version (one
      // snapshot), whatever order the answers come in.
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, n) =>
          n % 2 === 0
            ? inbox
                .add({ id: `v-${n}`, recipientId: 'val', type: 't', message: { title: 'v' } })
                .then(() => undefined)
            : inbox.counts('val'),
        ),
      )
      for (const counts of answers) if (counts) expect(counts.unread).toBe(counts.version)
      const last = await inbox.counts('val')
      expect(last).toEqual({ unread: 12, read: 0, archived: 0, version: 12 })
      // Every change raises it: a mark, an archive, a mark all read.
      await inbox.markRead('val', ['v-0'])
      await inbox.archive('val', ['v-2'])
      const after = await inbox.counts('val')
      expect(after).toEqual({ unread: 10, read: 1, archived: 1, version: 14 })
      const { counts } = (await (await as('val', '/')).json()) as { counts: unknown }
      expect(counts).toEqual(after)
      expect(await (await as('val', '/counts')).json()).toEqual(after)
    })

    it('pages newest first with a cursor, and refuses a forged cursor', async () => {
      for (let i = 0; i < 5; i++) {
        app.clock.advance(1_000)
        await inbox.add({
          id: `p-${i}`,
          recipientId: 'pam',
          type: 't',
          message: { title: `n${i}` },
        })
      }
      const first = await inbox.list('pam', { limit: 2 })
      expect(first.items.map((item) => item.id)).toEqual(['p-4', 'p-3'])
      const second = await inbox.list('pam', { limit: 2, cursor: first.nextCursor })
      expect(second.items.map((item) => item.id)).toEqual(['p-2', 'p-1'])
      const last = await inbox.list('pam', { limit: 2, cursor: second.nextCursor })
      expect(last).toMatchObject({ items: [{ id: 'p-0' }], nextCursor: null })
      await expect(inbox.list('pam', { cursor: 'garbage' })).rejects.toMatchObject({
        code: 'E_INBOX_MARKER',
      })
      // Another recipient's cursor, and one edited to a position of its own: refused, 400.
      await expect(inbox.list('pat', { cursor: first.nextCursor })).rejects.toMatchObject({
        code: 'E_INBOX_MARKER',
        status: 400,
      })
      const [at, id, tag] = JSON.parse(
        Buffer.from(first.nextCursor ?? '', 'base64url').toString(),
      ) as [number, string, string]
      const edited = Buffer.from(JSON.stringify([at + 1, id, tag])).toString('base64url')
      await expect(inbox.list('pam', { cursor: edited })).rejects.toMatchObject({
        code: 'E_INBOX_MARKER',
      })
    })

    it('refuses a limit or a since time that is not a number, where it read nothing or failed in the driver', async () => {
      await inbox.add({ id: 'nan-1', recipientId: 'nan', type: 't', message: { title: 'one' } })
      for (const limit of [Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(inbox.list('nan', { limit })).rejects.toMatchObject({
          code: 'E_VALIDATION',
          issues: [{ path: 'limit' }],
        })
      }
      await expect(inbox.versionBefore('nan', Number.NaN)).rejects.toMatchObject({
        code: 'E_VALIDATION',
        issues: [{ path: 'ms' }],
      })
      // A number out of range is still clamped, as documented.
      expect((await inbox.list('nan', { limit: 1e9 })).items).toHaveLength(1)
      expect(await inbox.versionBefore('nan', 0)).toBe(0)
    })

    it('serves the signed-in recipient over HTTP and refuses anyone else', async () => {
      await inbox.add({ id: 'h-1', recipientId: 'hal', type: 't', message: { title: 'hello' } })
      expect((await as(undefined, '/')).status).toBe(401)
      const list = await (await as('hal', '/')).json()
      expect(list).toMatchObject({ items: [{ id: 'h-1' }], counts: { unread: 1 } })
      // Another user cannot mark hal's item read: it is filtered by the signed-in id.
      const other = await as('eve', '/read', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids: ['h-1'] }),
      })
      expect(await other.json()).toEqual({ changed: 0 })
      const mine = await as('hal', '/read', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids: ['h-1'] }),
      })
      expect(await mine.json()).toEqual({ changed: 1 })
      expect(await (await as('hal', '/counts')).json()).toMatchObject({
        unread: 0,
        read: 1,
        archived: 0,
      })
      expect((await as('hal', '/?status=bogus')).status).toBe(422)
      expect(
        (
          await as('hal', '/read', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"ids":"x"}',
          })
        ).status,
      ).toBe(422)
      expect((await as('hal', '/read', { method: 'POST', body: 'ids=1' })).status).toBe(400)
      expect((await as('hal', '/nowhere')).status).toBe(404)
    })

    it('fails closed on a recipient that is no id as text: null is signed out, a number or an object is refused alike on every engine', async () => {
      for (const id of ['42', '42abc', '042']) {
        await inbox.add({ id: `n-${id}`, recipientId: id, type: 't', message: { title: id } })
      }
      const json = { method: 'POST', headers: { 'content-type': 'application/json' } }
      const archive = { ...json, body: JSON.stringify({ ids: ['n-42', 'n-42abc', 'n-042'] }) }
      for (const who of [null, '']) {
        expect((await as(who as never, '/')).status).toBe(401)
        expect((await as(who as never, '/archive', archive)).status).toBe(401)
      }
      // Before, null was read as an id, and 42 got 200 with nothing (SQLite), '42''s items and
      // changes (PostgreSQL) or a 422 or 500 blaming the request (MariaDB).
      for (const who of [42, true, ['42'], { id: '42' }]) {
        for (const [path, init] of [
          ['/', {}],
          ['/counts', {}],
          ['/archive', archive],
          ['/stream', {}],
        ] as const) {
          const answer = await as(who as never, path, init)
          expect(answer.status, `${JSON.stringify(who)} ${path}`).toBe(500)
          expect(await answer.json()).toMatchObject({ code: 'E_NOTIFY_CONFIG' })
        }
      }
      for (const id of ['42', '42abc', '042']) {
        expect(await inbox.counts(id)).toMatchObject({ unread: 1, archived: 0 })
      }
    })

    it('changes the inbox only on a JSON request, never on one an HTML form of another site can send', async () => {
      await inbox.add({ id: 'f-1', recipientId: 'fay', type: 't', message: { title: 'hello' } })
      // What a cross-site form can send (its three encodings, or no body at all), with the
      // user's cookies: a simple request, which no CORS preflight stops.
      const forms: RequestInit[] = [
        { method: 'POST' },
        { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"ids":["f-1"]}' },
        { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' } },
      ]
      for (const path of ['/read-all', '/read', '/archive']) {
        for (const init of forms) {
          const refused = await as('fay', path, init)
          expect(refused.status).toBe(400)
          expect(await refused.json()).toMatchObject({ detail: expect.stringMatching(/json/i) })
        }
      }
      // Before, POST /read-all marked everything read whatever the request was.
      expect(await inbox.counts('fay')).toMatchObject({ unread: 1, read: 0, archived: 0 })
      const json = { method: 'POST', headers: { 'content-type': 'application/json' } }
      expect((await as('fay', '/read-all', { ...json, body: '{}' })).status).toBe(400)
      const { marker } = await inbox.list('fay')
      expect(
        await (
          await as('fay', '/read-all', { ...json, body: JSON.stringify({ upTo: marker }) })
        ).json(),
      ).toEqual({ changed: 1 })
      expect(await inbox.counts('fay')).toMatchObject({ unread: 0, read: 1, archived: 0 })
    })

    it('streams new items of the recipient as server-sent events, and no one else’s', async () => {
      const controller = new AbortController()
      const response = await as('sam', '/stream', { signal: controller.signal })
      expect(response.headers.get('content-type')).toContain('text/event-stream')
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let text = ''
      const readUntil = async (needle: string) => {
        while (!text.includes(needle)) {
          const { value, done } = await reader.read()
          if (done) throw new Error(`stream ended before ${needle}`)
          text += decoder.decode(value)
        }
      }
      await readUntil('event: counts')
      app.clock.advance(1_000)
      await inbox.add({
        id: 'not-sam',
        recipientId: 'someone',
        type: 't',
        message: { title: 'secret' },
      })
      // Written by "another process" (whose changes this one never hears), seen by the poll.
      await elsewhere().add({
        id: 's-1',
        recipientId: 'sam',
        type: 't',
        message: { title: 'from afar' },
      })
      await readUntil('from afar')
      await inbox.add({ id: 's-2', recipientId: 'sam', type: 't', message: { title: 'from here' } })
      await readUntil('from here')
      await readUntil('"unread":2')
      // An id that would end the id: field and write fields of its own (add() refuses it; a row
      // changed by other means may hold it)
      await elsewhere().add({
        id: 's-3',
        recipientId: 'sam',
        type: 't',
        message: { title: 'odd id' },
      })
      await app
        .resolve(databaseToken<{ mortar_inbox: Record<string, unknown> }>())
        .updateTable('mortar_inbox')
        .set({ id: 's-3\nevent: counts\ndata: {"unread":999}' })
        .where('id', '=', 's-3')
        .execute()
      await readUntil('odd id')
      expect(text).not.toContain('\ndata: {"unread":999}\n')
      expect(text).not.toContain('secret')
      expect(text.match(/"id":"s-1"/g)).toHaveLength(1)
      // An event's id is where a reconnect resumes, never an item's id (which a row could forge).
      expect(text.match(/^id: (?!v\d+\.[\w-]{16}$).*$/gm)).toBeNull()
      controller.abort()
      await reader.cancel()
    })

    /** Opens a stream as `recipientId`, resuming from `lastEventId` when given. */
    function openStream(
      recipientId: string,
      lastEventId?: string,
      options: Partial<InboxHandlerOptions> = {},
    ) {
      return openEvents((init) => as(recipientId, '/stream', init, options), lastEventId)
    }

    it('ends a stream in time, so its reconnect is authorized again, and resumes it where it opened', async () => {
      // Before, a stream lasted as long as its connection: a session revoked meanwhile kept it.
      const first = await openStream('rae', undefined, { maxStreamSeconds: 0.05 })
      expect(await first.readUntil('never sent')).toBe(false)
      const resume = first.lastEventId()
      expect(resume).toMatch(/^v\d+\.[\w-]{16}$/)
      // Written between the end and the browser's reconnect, a minute apart: before, the resumed
      // stream looked back only 10 s and never sent the first.
      await inbox.add({ id: 'r-gap', recipientId: 'rae', type: 't', message: { title: 'gap' } })
      app.clock.advance(60_000)
      await inbox.add({ id: 'r-gap2', recipientId: 'rae', type: 't', message: { title: 'gap2' } })
      const again = await openStream('rae', resume)
      expect(await again.readUntil('"id":"r-gap2"')).toBe(true)
      expect(again.items()).toEqual(['r-gap', 'r-gap2'])
      expect(again.lastEventId()).toMatch(/^v\d+\.[\w-]{16}$/)
      await again.close()
    })

    it('resumes after its last event, however long ago, with nothing missed and nothing sent again', async () => {
      const first = await openStream('lou')
      await first.readUntil('event: counts')
      app.clock.advance(5_000)
      await inbox.add({ id: 'l-1', recipientId: 'lou', type: 't', message: { title: 'one' } })
      expect(await first.readUntil('"id":"l-1"')).toBe(true)
      // Committed late by another process, stamped before l-1: the open stream's poll sends it.
      app.clock.set(app.clock.nowMs() - 2_000)
      await elsewhere().add({
        id: 'l-0',
        recipientId: 'lou',
        type: 't',
        message: { title: 'late' },
      })
      app.clock.set(app.clock.nowMs() + 2_000)
      expect(await first.readUntil('"id":"l-0"')).toBe(true)
      expect(first.items()).toEqual(['l-1', 'l-0'])
      const resume = first.lastEventId()
      await first.close()
      // A disconnect of an hour; three items in one millisecond.
      app.clock.advance(3_600_000)
      for (const id of ['l-4', 'l-2', 'l-3']) {
        await inbox.add({ id, recipientId: 'lou', type: 't', message: { title: id } })
      }
      // Before, a reconnect read again the 30 s behind its last event: l-0 and l-1 twice.
      const resumed = await openStream('lou', resume)
      expect(await resumed.readUntil('"id":"l-3"')).toBe(true)
      expect(resumed.items()).toEqual(['l-4', 'l-2', 'l-3'])
      expect(resumed.lastEventId()).toMatch(/^v\d+\.[\w-]{16}$/)
      await resumed.close()
      // The event ids of streams before versions (an instant, before that an item's id) resume
      // from the items stamped 30 s before them, in the order they committed.
      const byItem = await openStream('lou', 'l-1')
      expect(await byItem.readUntil('"id":"l-3"')).toBe(true)
      expect(byItem.items()).toEqual(['l-1', 'l-0', 'l-4', 'l-2', 'l-3'])
      await byItem.close()
      const byInstant = await openStream('lou', `@${app.clock.nowMs() - 1_000}`)
      expect(await byInstant.readUntil('"id":"l-3"')).toBe(true)
      expect(byInstant.items()).toEqual(['l-4', 'l-2', 'l-3'])
      await byInstant.close()
    })

    it('refuses a Last-Event-ID of a version not of the recipient’s stream (forged, past theirs, another recipient’s) with a typed 400, and opens no stream', async () => {
      await inbox.add({ id: 'fo-1', recipientId: 'fox', type: 't', message: { title: 'one' } })
      await inbox.add({ id: 'gi-1', recipientId: 'gil', type: 't', message: { title: 'one' } })
      const gils = await openStream('gil')
      await gils.readUntil('event: counts')
      const foxes = await openStream('fox')
      await foxes.readUntil('event: counts')
      const fox = foxes.lastEventId() ?? ''
      await Promise.all([gils.close(), foxes.close()])
      // Before, a bare version was taken as it came: one below the recipient's skipped nothing,
      // but another recipient's, below theirs, sent again what the page showed, and one of a
      // recipient whose version is above skipped what they had not seen.
      for (const lastEventId of [
        'v999999999999',
        'v1',
        gils.lastEventId() ?? '',
        `v${versionMarker('fox', 999)}`,
        `${fox.slice(0, -1)}${fox.endsWith('A') ? 'B' : 'A'}`,
      ]) {
        const refused = await openStream('fox', lastEventId)
        expect(refused.status).toBe(400)
      }
      const resumed = await openStream('fox', fox)
      expect(resumed.status).toBe(200)
      await resumed.close()
    })

    it('resumes from the recipient’s version now, not later, when an instant Last-Event-ID is past it: nothing written after is skipped', async () => {
      for (const lastEventId of [`@${app.clock.nowMs() + 3_600_000}`]) {
        // Past the 30 s a stream resumed by time (as from `@…`) sends again.
        app.clock.advance(STREAM_LOOKBACK_MS + 1_000)
        const { version } = await inbox.counts('fay')
        const first = await openStream('fay', lastEventId)
        await first.readUntil('event: counts')
        expect(first.lastEventId()).toBe(`v${versionMarker('fay', version)}`)
        const id = `fu-${version}`
        await inbox.add({ id, recipientId: 'fay', type: 't', message: { title: 'one' } })
        expect(await first.readUntil(`"id":"${id}"`)).toBe(true)
        expect(first.items()).toEqual([id])
        // Before, the stream's position stayed in the future: its events carried it back.
        expect(first.lastEventId()).toBe(`v${versionMarker('fay', version + 1)}`)
        await first.close()
      }
    })

    it('treats the id of another recipient’s item as unknown: it starts from now and tells nothing', async () => {
      await inbox.add({ id: 'e-1', recipientId: 'eve', type: 't', message: { title: 'eve' } })
      app.clock.advance(1_000)
      await inbox.add({ id: 'm-1', recipientId: 'mo', type: 't', message: { title: 'old' } })
      let opened = 0
      for (const lastEventId of ['e-1', 'no-such-item', undefined]) {
        // Past the lookback of a stream from now: m-1 comes only to one resumed after eve's item.
        app.clock.advance(STREAM_LOOKBACK_MS + 1_000)
        const { version } = await inbox.counts('mo')
        const events = await openStream('mo', lastEventId)
        await events.readUntil('event: counts')
        // Each starts as a fresh stream does: from the version now.
        expect(/^id: (.*)$/m.exec(events.text)?.[1]).toBe(`v${versionMarker('mo', version)}`)
        const sentinel = `m-${opened + 2}`
        await inbox.add({ id: sentinel, recipientId: 'mo', type: 't', message: { title: 's' } })
        expect(await events.readUntil(`"id":"${sentinel}"`)).toBe(true)
        // Before, nothing was looked up; resuming after eve's item would send m-1 (an oracle
        // of when eve's item was written).
        expect(events.items()).toEqual([sentinel])
        opened += 1
        await events.close()
      }
    })

    it('streams every item another process wrote, past the 500 rows one poll query reads', async () => {
      const controller = new AbortController()
      const response = await as('sol', '/stream', { signal: controller.signal })
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let text = ''
      const count = () => text.match(/event: item\n/g)?.length ?? 0
      const readUntil = async (done: () => boolean) => {
        while (!done()) {
          const { value, done: ended } = await reader.read()
          if (ended) throw new Error('the stream ended')
          text += decoder.decode(value)
        }
      }
      await readUntil(() => text.includes('event: counts'))
      app.clock.advance(1_000)
      // One transaction of another process: the poll finds 650 items at once.
      const writer = elsewhere()
      await app.resolve(DATABASE).transaction(async () => {
        for (let i = 0; i < 650; i++) {
          const id = `sol-${String(i).padStart(3, '0')}`
          await writer.add({ id, recipientId: 'sol', type: 't', message: { title: `n${i}` } })
        }
      })
      // Before, each poll read the same first 500 rows of its window: the last 150 never came.
      await readUntil(() => count() >= 650)
      expect(new Set(text.match(/"id":"sol-\d+"/g)).size).toBe(650)
      controller.abort()
      await reader.cancel()
    })

    it('caps live streams per recipient and per process, refusing more with 429 until one closes', async () => {
      const limits = { maxStreamsPerRecipient: 2, maxStreams: 3 }
      const open: AbortController[] = []
      const stream = async (recipientId: string) => {
        const controller = new AbortController()
        const response = await as(recipientId, '/stream', { signal: controller.signal }, limits)
        if (response.status === 200) open.push(controller)
        else await response.body?.cancel()
        return response
      }
      expect((await stream('ann')).status).toBe(200)
      expect((await stream('ann')).status).toBe(200)
      const third = await stream('ann')
      expect(third.status).toBe(429)
      expect(third.headers.get('retry-after')).not.toBeNull()
      expect((await stream('ben')).status).toBe(200)
      expect((await stream('cy')).status).toBe(429) // the process holds 3
      open.shift()?.abort() // one of ann's closes
      expect((await stream('cy')).status).toBe(200)
      expect((await stream('ann')).status).toBe(429) // ann 1 + ben 1 + cy 1: the process is full
      for (const controller of open) controller.abort()
      expect((await stream('ann')).status).toBe(200)
      open.pop()?.abort()
      expect(() => inboxHandler({ recipient: () => 'x', maxStreamsPerRecipient: 0 })).toThrow(
        expect.objectContaining({ code: 'E_NOTIFY_CONFIG' }),
      )
      expect(() => inboxHandler({ recipient: () => 'x', maxStreams: Number.NaN })).toThrow(
        expect.objectContaining({ code: 'E_NOTIFY_CONFIG' }),
      )
    })

    it('routes by path, then method: 404 for no route, 405 with the route’s Allow for another method, OPTIONS its Allow, HEAD no body', async () => {
      await inbox.add({ id: 'h-1', recipientId: 'hal', type: 't', message: { title: 'h' } })
      const json = { 'content-type': 'application/json' }
      // Before, a POST to a read route was read as a change: 422 for its missing ids.
      for (const path of ['/', '/counts', '/stream']) {
        const post = await as('hal', path, { method: 'POST', headers: json, body: '{"ids":[]}' })
        expect(post.status).toBe(405)
        expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
      }
      // Before, a GET of a change route was a 404, and PUT anywhere a 405 allowing GET.
      for (const path of ['/read', '/unread', '/archive', '/read-all']) {
        for (const method of ['GET', 'PUT', 'DELETE']) {
          const other = await as('hal', path, { method })
          expect(other.status).toBe(405)
          expect(other.headers.get('allow')).toBe('POST, OPTIONS')
        }
        const options = await as('hal', path, { method: 'OPTIONS' })
        expect(options.status).toBe(204)
        expect(options.headers.get('allow')).toBe('POST, OPTIONS')
      }
      expect((await as('hal', '/nope', { method: 'PUT' })).status).toBe(404)
      expect((await as('hal', '/nope', { method: 'POST', headers: json, body: '{}' })).status).toBe(
        404,
      )
      const options = await as('hal', '/counts', { method: 'OPTIONS' })
      expect(options.status).toBe(204)
      expect(options.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
      const head = await as('hal', '/', { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await head.text()).toBe('')
      // Signed out, every route and method is refused alike: nothing tells which exist.
      expect((await as(undefined, '/nope', { method: 'OPTIONS' })).status).toBe(401)
      expect((await as(undefined, '/read', { method: 'OPTIONS' })).status).toBe(401)
    })

    it('answers any request a client can send with a typed answer, never a 500: ids, cursors and markers of any text', async () => {
      await inbox.add({ id: 'q-1', recipientId: 'quinn', type: 't', message: { title: 'q' } })
      // Text as a request can carry it, NUL and lone surrogates included (PostgreSQL takes no NUL).
      const text = fc.string({ unit: 'binary', maxLength: 70 })
      const ids = fc.oneof(fc.array(text, { maxLength: 4 }), fc.jsonValue())
      const cursor = fc.oneof(
        text,
        fc
          .tuple(fc.oneof(fc.integer(), fc.double(), text), fc.oneof(text, fc.integer()))
          .map((tuple) => Buffer.from(JSON.stringify(tuple)).toString('base64url')),
      )
      const request = fc.record({
        method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
        path: fc.oneof(
          fc.constantFrom('/', '/counts', '/read', '/unread', '/archive', '/read-all', '/x'),
          text.map((path) => `/${encodeURIComponent(path)}`),
        ),
        query: fc.record(
          {
            cursor,
            limit: fc.oneof(text, fc.integer().map(String)),
            status: fc.oneof(text, fc.constantFrom('unread', 'read', 'archived', 'inbox')),
          },
          { requiredKeys: [] },
        ),
        body: fc.record(
          { ids, upTo: fc.oneof(text, fc.nat().map(String), fc.jsonValue()) },
          {
            requiredKeys: [],
          },
        ),
      })
      await fc.assert(
        fc.asyncProperty(request, async ({ method, path, query, body }) => {
          const search = new URLSearchParams(query as Record<string, string>).toString()
          const init: RequestInit = { method }
          if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
            init.headers = { 'content-type': 'application/json' }
            init.body = JSON.stringify(body)
          }
          const response = await as('quinn', `${path}?${search}`, init)
          await response.body?.cancel()
          expect(response.status).toBeLessThan(500)
        }),
        { numRuns: 150 },
      )
      // Before, these reached PostgreSQL, which refused the NUL: a 500.
      const nul = Buffer.from(JSON.stringify([1, 'a\u0000'])).toString('base64url')
      expect((await as('quinn', `/?cursor=${nul}`)).status).toBe(400)
      const json = { method: 'POST', headers: { 'content-type': 'application/json' } }
      for (const path of ['/read', '/unread', '/archive']) {
        const response = await as('quinn', path, { ...json, body: '{"ids":["q-1\\u0000"]}' })
        expect(response.status).toBe(422)
      }
      const upTo = (await inbox.list('quinn')).marker
      const all = await as('quinn', '/read-all', {
        ...json,
        body: JSON.stringify({ upTo, ids: ['\u0000'] }),
      })
      expect(all.status).toBe(422)
    })

    it('answers HEAD /stream with its headers and opens no stream (no place held, no poll)', async () => {
      const limits = { maxStreamsPerRecipient: 1 }
      // Unread and not cancelled, as a HEAD's body is: a stream behind it would hold dee's place.
      const head = await as('dee', '/stream', { method: 'HEAD' }, limits)
      expect(head.status).toBe(200)
      expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/)
      expect(head.body).toBeNull()
      const controller = new AbortController()
      const get = await as('dee', '/stream', { signal: controller.signal }, limits)
      expect(get.status).toBe(200)
      controller.abort()
      expect((await as(undefined, '/stream', { method: 'HEAD' })).status).toBe(401)
    })
  })
}

/**
 * Opens a stream through `send` (a GET of `/stream` as someone), resuming from `lastEventId`
 * when given, and reads its events as a browser's `EventSource` would.
 */
async function openEvents(
  send: (init: RequestInit) => Response | Promise<Response>,
  lastEventId?: string,
) {
  const controller = new AbortController()
  const response = await send({
    signal: controller.signal,
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
  })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const events = {
    status: response.status,
    text: '',
    /** Reads until `needle` arrives; false when the stream ended first. */
    async readUntil(needle: string): Promise<boolean> {
      while (!events.text.includes(needle)) {
        const { value, done } = await reader.read()
        if (done) return false
        events.text += decoder.decode(value)
      }
      return true
    },
    /** Reads until `count` items came; false when the stream ended first. */
    async readUntilItems(count: number): Promise<boolean> {
      while (events.items().length < count) {
        const { value, done } = await reader.read()
        if (done) return false
        events.text += decoder.decode(value)
      }
      return true
    },
    /** The id a browser would send back on reconnecting: the last `id:` field. */
    lastEventId: () => [...events.text.matchAll(/^id: (.*)$/gm)].at(-1)?.[1],
    /** The item ids in the order they came. */
    items: () =>
      [...events.text.matchAll(/^event: item\ndata: (.*)$/gm)].map(
        (match) => (JSON.parse(match[1] ?? '{}') as { id: string }).id,
      ),
    async close() {
      controller.abort()
      await reader.cancel()
    },
  }
  return events
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `live inbox streams, every item once, on ${engine.title}`,
    () => {
      let started: EngineApp<TestApp> | undefined
      let app: TestApp
      let inbox: Inbox
      /** The inbox of "another process": its changes reach streams here only by the poll. */
      let other: Inbox

      beforeAll(async () => {
        started = await startEngineApp(engine, (url) =>
          createTestApp({ database: url, modules: [inboxTestModule] }),
        )
        app = started.app
        inbox = app.resolve(INBOX)
        other = new Inbox(app.resolve(DATABASE), app.clock)
      })
      afterAll(() => started?.dispose())

      // One hub per inbox: the first handler's poll (20 ms) serves every stream of this app.
      const open = (recipientId: string, lastEventId?: string, query = '') =>
        openEvents((init) => {
          const handler = inboxHandler({ recipient: () => recipientId, pollMs: 20 })
          const context = new RequestContext({ createScope: () => app.createScope() })
          return runInRequestContext(context, () =>
            handler(new Request(`http://x/stream${query}`, init)),
          )
        }, lastEventId)
      const add = (to: Inbox, recipientId: string, id: string) =>
        to.add({ id, recipientId, type: 't', message: { title: id } })

      it('streams an item whose transaction commits long after its stamp, past any look-behind, once', async () => {
        const events = await open('ana')
        await events.readUntil('event: counts')
        let release = () => {}
        const held = new Promise<void>((resolve) => {
          release = resolve
        })
        let written = () => {}
        const inFlight = new Promise<void>((resolve) => {
          written = resolve
        })
        // Stamped now by another process, whose transaction then stays open a minute.
        const late = app.resolve(DATABASE).transaction(async () => {
          await add(other, 'ana', 'a-late')
          written()
          await held
        })
        await inFlight
        app.clock.advance(60_000)
        if (engine.engine !== 'sqlite') {
          // A poll that started after the minute has read (another recipient's item shows it).
          // SQLite's one connection is the transaction's until it ends: no poll runs meanwhile.
          const zed = await open('zed')
          await zed.readUntil('event: counts')
          await add(other, 'zed', 'z-1')
          expect(await zed.readUntil('"id":"z-1"')).toBe(true)
          await zed.close()
        }
        release()
        await late
        await add(other, 'ana', 'a-after')
        expect(await events.readUntil('"id":"a-after"')).toBe(true)
        // Before, each poll looked 30 s behind the last: a-late, stamped a minute before, never came.
        expect(events.items()).toEqual(['a-late', 'a-after'])
        await events.close()
      })

      it('sends every item of two concurrent writers once, across reconnects, in the order they committed', async () => {
        const ids = Array.from({ length: 40 }, (_, n) => `w-${String(n).padStart(2, '0')}`)
        // This process and another write at once; each add is a transaction of its own.
        const writes = Promise.all(
          [inbox, other].map(async (writer, w) => {
            for (let n = w; n < ids.length; n += 2) {
              app.clock.advance(w === 0 ? 7 : 3)
              await add(writer, 'wes', ids[n] as string)
            }
          }),
        )
        const sent: string[] = []
        let lastEventId: string | undefined
        // The client reconnects after each few items, with the last event id it got.
        while (sent.length < ids.length) {
          const events = await open('wes', lastEventId)
          expect(events.status).toBe(200)
          // A write that fails ends the test with its error, not a wait for an item never sent.
          const read = await Promise.race([
            events.readUntilItems(Math.min(sent.length === 0 ? 1 : 3, ids.length - sent.length)),
            writes.then(() => new Promise<boolean>(() => {})),
          ])
          expect(read).toBe(true)
          await events.close()
          sent.push(...events.items())
          lastEventId = events.lastEventId()
        }
        await writes
        // Before, each reconnect sent again the items of the 30 s behind its last event.
        expect([...sent].sort()).toEqual(ids)
        const { items } = await inbox.list('wes', { limit: 100 })
        expect(items).toHaveLength(ids.length)
      })

      it('starts after the page shown (`?after=` its marker): what committed since, nothing it showed', async () => {
        await add(inbox, 'pia', 'p-shown')
        const page = await inbox.list('pia')
        // Committed while the page loaded, by another process and this one.
        await add(other, 'pia', 'p-since')
        await add(inbox, 'pia', 'p-since-here')
        const events = await open('pia', undefined, `?after=${page.marker}`)
        await add(other, 'pia', 'p-live')
        expect(await events.readUntil('"id":"p-live"')).toBe(true)
        // Before, a fresh stream sent again the items of its last 30 s, p-shown among them.
        expect(events.items()).toEqual(['p-since', 'p-since-here', 'p-live'])
        await events.close()
        // An empty page (every item archived) still marks where it read: before, its marker was
        // 0, and a stream after it sent every archived item as new.
        await add(inbox, 'ari', 'ar-1')
        await inbox.archive('ari', ['ar-1'])
        const empty = await inbox.list('ari')
        expect(empty.items).toEqual([])
        expect(empty.marker).toBe(versionMarker('ari', 2))
        const fromEmpty = await open('ari', undefined, `?after=${empty.marker}`)
        await add(other, 'ari', 'ar-2')
        expect(await fromEmpty.readUntil('"id":"ar-2"')).toBe(true)
        expect(fromEmpty.items()).toEqual(['ar-2'])
        await fromEmpty.close()
        // Not a marker, a bare version, another recipient's (ari's page, whose version is below
        // pia's: before, pia's stream started there and sent again what pia's page showed), one
        // past the recipient's version: a typed 400, no stream.
        const past = versionMarker('pia', 999_999_999)
        for (const after of ['x', '-1', '1.5', '9999999999999999', '1', empty.marker, past]) {
          const refused = await open('pia', undefined, `?after=${encodeURIComponent(after)}`)
          expect(refused.status).toBe(400)
        }
      })
    },
  )
}

describe('live inbox streams of a recipient the app deleted', () => {
  it('refuse to open, and one open ends at its next heartbeat (and so does one whose check fails)', async () => {
    const gone = new Set<string>()
    let failing = false
    const app = createTestApp({
      database: 'sqlite::memory:',
      modules: [
        notifyModule({
          channels: [inboxChannel()],
          recipientExists: (id) => {
            if (failing) throw new Error('accounts database down')
            return !gone.has(id)
          },
        }),
      ],
      logger: createLogger({ level: 'silent' }),
    })
    await app.migrate()
    await app.start()
    try {
      const handler = inboxHandler({ recipient: () => 'ada', pollMs: 20, heartbeatSeconds: 0.02 })
      const open = () =>
        openEvents((init) =>
          runInRequestContext(new RequestContext({ createScope: () => app.createScope() }), () =>
            handler(new Request('http://x/stream', init)),
          ),
        )
      const stream = await open()
      expect(await stream.readUntil('event: counts')).toBe(true)
      gone.add('ada')
      // Before, it stayed open until maxStreamSeconds (10 minutes by default), its reconnect too.
      expect(await stream.readUntil('never sent')).toBe(false)
      expect((await open()).status).toBe(401)
      gone.delete('ada')
      const again = await open()
      expect(await again.readUntil('event: counts')).toBe(true)
      failing = true
      expect(await again.readUntil('never sent')).toBe(false)
      expect((await open()).status).toBe(500)
    } finally {
      await app.stop()
    }
  })
})

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `every inbox route of a recipient the app deleted, on ${engine.title}`,
    () => {
      const gone = new Set<string>()
      let failing = false
      const started = notifyAppOn(engine, {
        channels: [inboxChannel()],
        recipientExists: (id) => {
          if (failing) throw new Error('accounts database down')
          return !gone.has(id)
        },
      })
      const as = (recipientId: string, url: string, init?: RequestInit) => {
        const app = started()
        const handler = inboxHandler({ recipient: () => recipientId, pollMs: 50 })
        const context = new RequestContext({ createScope: () => app.createScope() })
        return runInRequestContext(context, () => handler(new Request(`http://x${url}`, init)))
      }

      it('reads and changes nothing, 401 on every route as the stream does (500 when the check fails)', async () => {
        const inbox = started().resolve(INBOX)
        for (const id of ['g-1', 'g-2']) {
          await inbox.add({ id, recipientId: 'gil', type: 't', message: { title: id } })
        }
        const page = (await (await as('gil', '/')).json()) as { marker: string }
        const post = (path: string, body: unknown) =>
          [
            path,
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(body),
            },
          ] as const
        const routes: (readonly [string, RequestInit])[] = [
          ['/', {}],
          ['/?status=unread', {}],
          ['/counts', {}],
          ['/stream', {}],
          ['/', { method: 'HEAD' }],
          ['/counts', { method: 'OPTIONS' }],
          post('/read', { ids: ['g-1'] }),
          post('/unread', { ids: ['g-1'] }),
          post('/archive', { ids: ['g-1', 'g-2'] }),
          post('/read-all', { upTo: page.marker, ids: [] }),
        ]
        const before = await inbox.counts('gil')
        // Before, only the stream asked recipientExists: a deleted account's live session still
        // read its items and counts and marked or archived them.
        gone.add('gil')
        for (const [path, init] of routes) {
          const answer = await as('gil', path, init)
          expect(answer.status, `${init.method ?? 'GET'} ${path}`).toBe(401)
          await answer.body?.cancel()
        }
        gone.delete('gil')
        failing = true
        for (const [path, init] of routes) {
          const answer = await as('gil', path, init)
          expect(answer.status, `${init.method ?? 'GET'} ${path}, check failing`).toBe(500)
          await answer.body?.cancel()
        }
        failing = false
        expect(await inbox.counts('gil')).toEqual(before)
        expect((await as('gil', ...post('/archive', { ids: ['g-1'] }))).status).toBe(200)
        expect(await inbox.counts('gil')).toMatchObject({ unread: 1, archived: 1 })
      })
    },
  )
}

describe('live inbox streams on app.stop()', () => {
  it('end, and no other opens, so a stopped app holds no connection, timer or poll', async () => {
    const app = createTestApp({ database: 'sqlite::memory:', modules: [inboxTestModule] })
    await app.migrate()
    await app.start()
    const handler = inboxHandler({ recipient: () => 'ada', pollMs: 50 })
    const open = () => {
      const context = new RequestContext({ createScope: () => app.createScope() })
      return runInRequestContext(context, () => handler(new Request('http://x/stream')))
    }
    const response = await open()
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!text.includes('event: counts')) {
      const { value, done } = await reader.read()
      if (done) throw new Error('the stream ended before its counts')
      text += new TextDecoder().decode(value)
    }
    await app.stop()
    // Before, the stream stayed open after stop (its heartbeat and the hub's poll running).
    for (;;) if ((await reader.read()).done) break
    expect((await open()).status).toBe(503)
  })

  it('says when their poll fails instead of going quiet, and logs a failed request', async () => {
    const lines: string[] = []
    const app = createTestApp({
      database: 'sqlite::memory:',
      modules: [inboxTestModule],
      logger: createLogger({ level: 'warn', destination: { write: (line) => lines.push(line) } }),
    })
    await app.migrate()
    await app.start()
    const handler = inboxHandler({ recipient: () => 'ada', pollMs: 20 })
    const context = new RequestContext({ createScope: () => app.createScope() })
    const response = await runInRequestContext(context, () =>
      handler(new Request('http://x/stream')),
    )
    await sql`drop table mortar_inbox_version`.execute(app.resolve(DATABASE).root)
    // Before, every failed poll was dropped without a word.
    await expect.poll(() => lines.join('')).toContain('Live inbox streams cannot read new items')
    // And a request that fails with it is a 500 logged with its id, not only answered.
    const failed = await runInRequestContext(
      new RequestContext({ createScope: () => app.createScope(), requestId: 'req-broken' }),
      () => handler(new Request('http://x/counts')),
    )
    expect(failed.status).toBe(500)
    expect(lines.join('')).toContain('"requestId":"req-broken"')
    await response.body?.cancel()
    await app.stop()
  })
})
