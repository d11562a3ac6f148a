import { ConfigError, Vault } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { loadShopConfig } from '../config.js'
import { DEVELOPMENT_SESSION_PASSWORD, developmentSecretsIn, vaultKeyRing } from './index.js'

const KEY_A = Vault.generateKey()
const KEY_B = Vault.generateKey()
const OWN = {
  SESSION_PASSWORD: 'an-own-session-password-of-40-characters!',
  VAULT_KEYS: `k2025:${KEY_A},k2026:${KEY_B}`,
  PAGINATION_KEY: 'an-own-pagination-key-of-40-characters!!',
  ADMIN_PASSWORD: 'an own admin password',
  SMTP_URL: 'smtp://mailer:secret@mail.shop.example:587',
}

describe('the shop config', () => {
  it('runs in development with no other variable, on the development defaults, and says which apply', () => {
    const config = loadShopConfig({ NODE_ENV: 'development' })
    expect(config.sessionPassword.reveal()).toEqual({ 1: DEVELOPMENT_SESSION_PASSWORD })
    expect(config.passwordHashLogN).toBe(17)
    expect(developmentSecretsIn(config)).toEqual([
      'SESSION_PASSWORD',
      'VAULT_KEYS',
      'ADMIN_PASSWORD',
    ])
    // The development key ring is a valid one.
    expect(new Vault({ keys: vaultKeyRing(config.vaultKeys) }).keyIds).toEqual(['dev'])
  })

  it('refuses the development defaults, a missing pagination key or SMTP server and a weak password hash cost in production', () => {
    let error: unknown
    try {
      loadShopConfig({ NODE_ENV: 'production', PASSWORD_HASH_LOG_N: '12' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).issues.map((issue) => issue.envVar)).toEqual([
      'SESSION_PASSWORD',
      'VAULT_KEYS',
      'ADMIN_PASSWORD',
      'PAGINATION_KEY',
      'SMTP_URL',
      'PASSWORD_HASH_LOG_N',
    ])
    expect(String(error)).not.toContain(DEVELOPMENT_SESSION_PASSWORD)
  })

  it('refuses the public development secrets wherever NODE_ENV is not development or test, unset included', () => {
    // A copy of the shop deployed without NODE_ENV would otherwise seal its sessions with a
    // password anyone can read in this repository.
    for (const env of [{}, { NODE_ENV: '' }, { NODE_ENV: 'staging' }, { NODE_ENV: 'Production' }]) {
      let error: unknown
      try {
        loadShopConfig(env)
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).issues.map((issue) => issue.envVar)).toContain(
        'SESSION_PASSWORD',
      )
    }
    expect(() => loadShopConfig({ NODE_ENV: 'test' })).not.toThrow()
  })

  it('accepts secrets of its own in production and reads the key ring, the last key encrypting', () => {
    const config = loadShopConfig({ NODE_ENV: 'production', ...OWN })
    expect(developmentSecretsIn(config)).toEqual([])
    const vault = new Vault({ keys: vaultKeyRing(config.vaultKeys) })
    expect(vault.keyIds).toEqual(['k2025', 'k2026'])
    expect(vault.primaryKeyId).toBe('k2026')
  })

  it('refuses a short session password and a malformed key ring without echoing them', () => {
    let error: unknown
    try {
      loadShopConfig({
        NODE_ENV: 'development',
        SESSION_PASSWORD: 'too-short-secret',
        VAULT_KEYS: 'no-colon-here',
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).issues.map((issue) => issue.envVar)).toEqual([
      'SESSION_PASSWORD',
      'VAULT_KEYS',
    ])
    expect(String(error)).not.toContain('too-short-secret')
    expect(String(error)).not.toContain('no-colon-here')
  })
})
