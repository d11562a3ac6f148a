import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Secret, secret } from './secret.js'

describe('Secret', () => {
  const value = new Secret('p4ssw0rd-value')

  it('prints [secret] in template strings, concatenation and String()', () => {
    expect(`${value}`).toBe('[secret]')
    expect(`key=${value}`).not.toContain('p4ssw0rd')
    expect(String(value)).toBe('[secret]')
  })

  it('prints [secret] in JSON and util.inspect, even nested', () => {
    expect(JSON.stringify({ db: { password: value } })).toBe('{"db":{"password":"[secret]"}}')
    expect(inspect(value)).toBe('[secret]')
    expect(inspect({ nested: { value } }, { depth: 5, showHidden: true })).not.toContain('p4ssw0rd')
  })

  it('reveals the wrapped value on demand', () => {
    expect(value.reveal()).toBe('p4ssw0rd-value')
  })

  it('is recognised by isSecret', () => {
    expect(Secret.isSecret(value)).toBe(true)
    expect(Secret.isSecret('[secret]')).toBe(false)
  })
})

describe('secret', () => {
  it('validates with the given schema, then wraps the value', () => {
    const schema = secret(z.string().min(4))
    const parsed = schema.parse('abcd')
    expect(parsed).toBeInstanceOf(Secret)
    expect(parsed.reveal()).toBe('abcd')
    expect(schema.safeParse('abc').success).toBe(false)
  })
})
