import { describe, expect, it } from 'vitest'
import { isDevelopment } from './environment.js'

describe('isDevelopment', () => {
  it('is true for NODE_ENV development or test only; unset, empty or anything else is production', () => {
    expect(isDevelopment({ NODE_ENV: 'development' })).toBe(true)
    expect(isDevelopment({ NODE_ENV: 'test' })).toBe(true)
    for (const NODE_ENV of [undefined, '', 'production', 'staging', 'Development', 'dev']) {
      expect(isDevelopment({ NODE_ENV })).toBe(false)
    }
  })
})
