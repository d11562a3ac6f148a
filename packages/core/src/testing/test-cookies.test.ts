import { describe, expect, it } from 'vitest'
import { TestCookies } from './test-cookies.js'

describe('TestCookies', () => {
  it('keeps what Set-Cookie sets, replaces it, and drops what is cleared or expired', () => {
    const cookies = new TestCookies()
    expect(cookies.header).toBe('')
    cookies.receive(['session=abc; Path=/; HttpOnly', 'theme=dark'])
    expect(cookies.header).toBe('session=abc; theme=dark')
    cookies.receive('session=def=ghi; Path=/')
    expect(cookies.header).toBe('session=def=ghi; theme=dark')
    cookies.receive(['theme=; Path=/', 'session=x; Max-Age=0'])
    expect(cookies.header).toBe('')
    cookies.receive(undefined)
    expect(cookies.header).toBe('')
  })
})
