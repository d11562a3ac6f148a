import { describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { z } from 'zod'
import { stateStoreConformance } from '../testing/index.js'
import { MemoryStateStore } from './memory-state-store.js'

stateStoreConformance(vitest, 'memory', (clock) => new MemoryStateStore({ clock }))

describe('MemoryStateStore', () => {
  it('keeps owners apart even when an owner name looks like a separator', async () => {
    const notes = new MemoryStateStore().namespace('notes', z.string())
    await notes.put('a","notes', 'k', 'one')
    await notes.put('a', 'k', 'two')
    expect((await notes.list('a')).map((entry) => entry.value)).toEqual(['two'])
  })

  it('returns a copy: changing a value read changes nothing stored', async () => {
    const prefs = new MemoryStateStore().namespace('prefs', z.object({ tags: z.array(z.string()) }))
    const saved = await prefs.put('u', 'k', { tags: ['a'] })
    saved.value.tags.push('b')
    const read = await prefs.get('u', 'k')
    read?.value.tags.push('c')
    expect((await prefs.get('u', 'k'))?.value.tags).toEqual(['a'])
  })
})
