import { ValidationError } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { notifyTestApp } from '../test-support/notify-test-app.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { PREFERENCES } from '../module/notify-tokens.js'

describe('Preferences', () => {
  it('refuses a category the app did not set, whatever an object inherits', async () => {
    // Before, 'constructor', 'toString' and '__proto__' passed as known categories ('in').
    const app = notifyTestApp({
      channels: [recordingChannel('sms', (r) => r.phone)],
      categories: { marketing: {} },
    })
    await app.migrate()
    await app.start()
    try {
      const preferences = app.resolve(PREFERENCES)
      for (const category of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        await expect(preferences.set('ada', { category, enabled: false })).rejects.toBeInstanceOf(
          ValidationError,
        )
      }
      await preferences.set('ada', { category: 'marketing', enabled: false })
      expect(await preferences.list('ada')).toHaveLength(1)
      expect(Object.keys(preferences.categories).sort()).toEqual(['admin_alerts', 'marketing'])
    } finally {
      await app.stop()
    }
  })
})
