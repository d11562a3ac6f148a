import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { MemoryEventSink } from '../sinks/memory/memory-event-sink.js'
import { inRequest, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })

describe('probe', () => {
  it('custom sink forget', async () => {
    const sink = new MemoryEventSink()
    const subject = await startEngineApp({ engine: 'sqlite', title: 'SQLite' }, { events, sink })
    const { analytics, app } = subject
    inRequest(app, {}, () => {
      analytics.track('product_viewed', { productId: 'p-1' }, { anonymousId: 'anon-1' })
      analytics.identify('u-1', undefined, { anonymousId: 'anon-1' })
    })
    await analytics.flush()
    console.log('before', sink.events.map((e) => [e.name, e.userId, e.anonymousId]), sink.links)
    console.log(await analytics.forgetUser('u-1'))
    console.log('after', sink.events.map((e) => [e.name, e.userId, e.anonymousId]))
    inRequest(app, {}, () => {
      analytics.track('product_viewed', { productId: 'p-2' }, { anonymousId: 'anon-1' })
    })
    await analytics.flush()
    console.log('later', sink.events.map((e) => [e.name, e.userId, e.anonymousId]))
    await subject.close()
  })
})
