import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, inRequest, startEngineApp } from '../testing/engine-app.js'
import type { EventBatch } from '../sinks/event-sink.js'
import { MemoryEventSink } from '../sinks/memory/memory-event-sink.js'
import type { DropReport } from '../tracker/index.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })

describe('the heartbeat collector', () => {
  let subject: EngineApp<typeof events>
  beforeAll(async () => {
    subject = await startEngineApp(
      { engine: 'sqlite', title: 'SQLite' },
      { events, heartbeatSeconds: 10 },
    )
  })
  afterAll(() => subject?.close())

  const post = (body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    inRequest(subject.app, { principal: { id: 'u-7' } }, () =>
      subject.analytics.collector()(
        new Request('http://shop.test/a/collect', {
          method: 'POST',
          body,
          headers,
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        }),
      ),
    )
  const beacon = JSON.stringify({
    type: 'heartbeat',
    pageViewId: '0190d1a5-0000-7000-8000-000000000000',
    seq: 1,
  })

  it('serves the page script and a tag that starts it for a page view', async () => {
    const response = await subject.analytics.collector()(
      new Request('http://shop.test/a/script.js'),
    )
    expect(response.headers.get('content-type')).toMatch(/javascript/)
    expect(await response.text()).toContain("addEventListener('pagehide'")
    expect(subject.analytics.heartbeatTag('0190d1a5-0000-7000-8000-000000000000', '/a/')).toBe(
      '<script src="/a/script.js" data-page-view="0190d1a5-0000-7000-8000-000000000000" data-endpoint="/a/collect" data-interval="10" defer></script>',
    )
  })

  it('records heartbeats and page-leaves of the requesting visitor, and counts them in dwell', async () => {
    subject.clock.set('2026-03-02T10:00:00Z')
    const view = inRequest(subject.app, { principal: { id: 'u-7' }, url: '/p/1' }, () =>
      subject.analytics.page(),
    )
    subject.clock.set('2026-03-02T10:00:10Z')
    expect(
      (await post(JSON.stringify({ type: 'heartbeat', pageViewId: view, seq: 1 }))).status,
    ).toBe(204)
    subject.clock.set('2026-03-02T10:00:14Z')
    expect((await post(JSON.stringify({ type: 'leave', pageViewId: view }))).status).toBe(204)
    await subject.analytics.flush()
    const beats = await subject.db
      .selectFrom('mortar_analytics_event')
      .select(['name', 'user_id'])
      .where('name', 'in', ['$heartbeat', '$page_leave'])
      .execute()
    expect(beats).toEqual([
      { name: '$heartbeat', user_id: 'u-7' },
      { name: '$page_leave', user_id: 'u-7' },
    ])
    const dwell = await subject.analytics.dwell({
      from: new Date('2026-03-02T00:00:00Z'),
      to: new Date('2026-03-03T00:00:00Z'),
    })
    expect(dwell).toEqual([{ path: '/p/1', views: 1, engagedMs: 14_000, averageMs: 14_000 }])
  })

  it('counts no more engaged time than passed, however many heartbeats a client sends', async () => {
    subject.clock.set('2026-03-05T10:00:00Z')
    const view = inRequest(subject.app, { principal: { id: 'u-8' }, url: '/p/flood' }, () =>
      subject.analytics.page(),
    )
    subject.clock.set('2026-03-05T10:00:20Z')
    for (let seq = 1; seq <= 300; seq++) {
      await post(JSON.stringify({ type: 'heartbeat', pageViewId: view, seq }))
    }
    await subject.analytics.flush()
    const dwell = await subject.analytics.dwell({
      from: new Date('2026-03-05T00:00:00Z'),
      to: new Date('2026-03-06T00:00:00Z'),
    })
    // Two intervals of 10 s passed: before, 300 sequence numbers counted 3 000 s.
    expect(dwell).toEqual([{ path: '/p/flood', views: 1, engagedMs: 20_000, averageMs: 20_000 }])
  })

  it('refuses what is not a beacon', async () => {
    expect((await post('not json')).status).toBe(400)
    expect(
      (await post(JSON.stringify({ type: 'heartbeat', pageViewId: 'x', seq: 1 }))).status,
    ).toBe(400)
    expect((await post('x'.repeat(2_000))).status).toBe(413)
    const wrong = await subject.analytics.collector()(
      new Request('http://shop.test/a/other', { method: 'POST' }),
    )
    expect(wrong.status).toBe(404)
  })

  it("refuses a beacon another site sent with the visitor's cookies, takes its own pages' and non-browsers'", async () => {
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site', origin: 'http://shop.test' },
      { origin: 'https://evil.test' },
      { origin: 'null' },
    ]) {
      expect((await post(beacon, headers)).status, JSON.stringify(headers)).toBe(403)
    }
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-site': 'same-origin', origin: 'http://shop.test' },
      { origin: 'https://shop.test' },
      {},
    ]) {
      expect((await post(beacon, headers)).status, JSON.stringify(headers)).toBe(204)
    }
  })

  it('counts the limit in UTF-8 bytes and reads no further than it', async () => {
    // 600 two-byte characters: 600 UTF-16 units, 1,200 bytes.
    expect((await post(`{"x":"${'é'.repeat(600)}"}`)).status).toBe(413)
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        controller.enqueue(new Uint8Array(256).fill(0x20))
      },
    })
    expect((await post(endless)).status).toBe(413)
    // 1 KiB is four chunks; the fifth passes it, and nothing after it is asked for.
    expect(pulled).toBeLessThanOrEqual(6)
  })
})

/** A memory sink whose writes wait until `open()`: the buffer fills behind a stalled write. */
class StalledSink extends MemoryEventSink {
  #open: (() => void) | undefined
  readonly #gate = new Promise<void>((resolve) => {
    this.#open = resolve
  })
  #entered: (() => void) | undefined
  /** Resolves once a write has started (and waits). */
  readonly writing = new Promise<void>((resolve) => {
    this.#entered = resolve
  })

  override async write(batch: EventBatch): Promise<void> {
    this.#entered?.()
    await this.#gate
    await super.write(batch)
  }

  open(): void {
    this.#open?.()
  }
}

describe('the heartbeat collector under a flood', () => {
  it("never evicts the server's own events: beacons have a buffer of their own", async () => {
    const reports: DropReport[] = []
    const sink = new StalledSink()
    const subject = await startEngineApp(
      { engine: 'sqlite', title: 'SQLite' },
      {
        events,
        sink,
        buffer: { capacity: 8, batchSize: 2, maxAgeMs: 600_000, overflow: 'drop-oldest' },
        onDrop: (report) => reports.push(report),
      },
    )
    const view = '0190d1a5-0000-7000-8000-000000000009'
    const beat = (seq: number) =>
      inRequest(subject.app, { principal: { id: 'u-9' } }, () =>
        subject.analytics.collector()(
          new Request('http://shop.test/a/collect', {
            method: 'POST',
            body: JSON.stringify({ type: 'heartbeat', pageViewId: view, seq }),
          }),
        ),
      )
    try {
      // A write of beacons stalls; the server's events queue behind it, then a flood comes.
      for (let seq = 1; seq <= 4; seq++) expect((await beat(seq)).status).toBe(204)
      await sink.writing
      inRequest(subject.app, { principal: { id: 'u-9' }, url: '/p/9' }, () => {
        subject.analytics.track('product_viewed', { productId: 'p-9' })
        subject.analytics.page()
      })
      for (let seq = 5; seq <= 54; seq++) expect((await beat(seq)).status).toBe(204)
      sink.open()
      await subject.analytics.flush()
      const names = sink.events.map((event) => event.name).filter((name) => name !== '$heartbeat')
      expect(names.sort()).toEqual(['$page', 'product_viewed'])
      // What was dropped is beacons only, every one counted and reported.
      await new Promise((resolve) => setImmediate(resolve))
      const { dropped } = subject.analytics.stats()
      const beats = sink.events.filter((event) => event.name === '$heartbeat').length
      expect(dropped.overflow).toBe(54 - beats)
      expect(reports.reduce((sum, report) => sum + report.count, 0)).toBe(dropped.overflow)
    } finally {
      sink.open()
      await subject.close()
    }
  })
})
