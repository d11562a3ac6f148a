import { RedisError } from './redis-error.js'

/** A checked Redis URL, and how to show it without its password. */
export interface ParsedRedisUrl {
  readonly url: string
  /** The URL with the password replaced by `***`: what logs and errors show. */
  readonly display: string
}

/**
 * Checks a Redis URL (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS) and
 * gives the form that may be shown; a bad one is a `RedisError` (`E_REDIS_URL`) that never
 * repeats the URL, which may hold a password.
 */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw urlError('it is not a URL')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw urlError(`its scheme is '${parsed.protocol.slice(0, 16)}'; use redis:// or rediss://`)
  }
  if (parsed.hostname === '') throw urlError('it names no host')
  const db = parsed.pathname.replace(/^\//, '')
  if (db !== '' && !/^\d{1,2}$/.test(db)) {
    throw urlError('the path must be a database number (redis://host:6379/0)')
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw urlError('query parameters and fragments are not read; remove them')
  }
  const shown = new URL(parsed.toString())
  if (shown.password !== '') shown.password = '***'
  return { url, display: shown.toString() }
}

function urlError(why: string): RedisError {
  return new RedisError(
    'E_REDIS_URL',
    `The redis setting is not a usable Redis URL: ${why}. Expected redis://[:password@]host[:port][/db].`,
  )
}
