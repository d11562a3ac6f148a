import { defineModule, describeOption, type Module, REDIS } from '@mortar/core'
import { SessionConfigError, SessionExistsError } from '../../errors.js'
import { checkRegistryText } from '../registry-text.js'
import {
  SESSION_REGISTRY,
  SESSION_REGISTRY_MODULE,
  type SessionOwner,
  type SessionRecord,
  type SessionRegistry,
} from '../session-registry.js'

/**
 * The few Redis commands the registry calls. Typed by shape rather than by importing ioredis,
 * so an app that never uses Redis does not need it installed and any compatible client fits.
 */
export interface RedisLike {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  hgetall(key: string): Promise<Record<string, string>>
}

/** Options of {@link RedisSessionRegistry}. */
export interface RedisSessionRegistryOptions {
  readonly client: RedisLike
  /** Put before every key, so several apps (or test runs) share one Redis; default `mortar:`. */
  readonly prefix?: string
  /**
   * How long a session is kept after it was created or last touched, in seconds (default 30
   * days). Set it to at least the session cookie's max age.
   */
  readonly ttlSeconds?: number
}

const DEFAULT_PREFIX = 'mortar:'
const DEFAULT_TTL_SECONDS = 30 * 24 * 60 * 60

// Each method that writes is one Lua script: atomic, one round trip. Scripts build the user
// key from the record, so the registry runs on a single Redis (with replicas), not a Cluster.
// Optional strings travel as '=' + value, or '' when absent.
const CREATE = `
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'userId', ARGV[1], 'createdAt', ARGV[2], 'lastSeenAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('hset', KEYS[1], 'ip', string.sub(ARGV[4], 2)) end
if ARGV[5] ~= '' then redis.call('hset', KEYS[1], 'userAgent', string.sub(ARGV[5], 2)) end
redis.call('pexpire', KEYS[1], ARGV[6])
redis.call('zadd', KEYS[2], ARGV[2], ARGV[7])
if redis.call('pttl', KEYS[2]) < tonumber(ARGV[6]) then redis.call('pexpire', KEYS[2], ARGV[6]) end
return 1
`

const TOUCH = `
local user = redis.call('hget', KEYS[1], 'userId')
if not user then return 0 end
if tonumber(redis.call('hget', KEYS[1], 'lastSeenAt')) < tonumber(ARGV[1]) then
  redis.call('hset', KEYS[1], 'lastSeenAt', ARGV[1])
end
redis.call('pexpire', KEYS[1], ARGV[2])
local userKey = ARGV[3] .. user
if redis.call('pttl', userKey) < tonumber(ARGV[2]) then redis.call('pexpire', userKey, ARGV[2]) end
return 1
`

const LIST = `
local ids = redis.call('zrevrange', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('hgetall', ARGV[1] .. id)
  if #fields == 0 then
    redis.call('zrem', KEYS[1], id)
  else
    table.insert(out, id)
    table.insert(out, fields)
  end
end
return out
`

const REVOKE = `
if redis.call('hget', KEYS[1], 'userId') ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
redis.call('zrem', KEYS[2], ARGV[2])
return 1
`

const REVOKE_ALL = `
local ids = redis.call('zrange', KEYS[1], 0, -1)
local revoked = 0
for _, id in ipairs(ids) do
  if ARGV[2] == '' or id ~= string.sub(ARGV[2], 2) then
    revoked = revoked + redis.call('del', ARGV[1] .. id)
    redis.call('zrem', KEYS[1], id)
  end
end
return revoked
`

/**
 * A {@link SessionRegistry} on Redis: each session a hash with a TTL (sliding: `touch`
 * extends it), each user a sorted set of session ids by creation time. Every write is one
 * atomic Lua script; `find` is one `HGETALL`.
 *
 * @example
 * ```ts
 * import { RedisSessionRegistry } from '@mortar/session'
 * import { Redis } from 'ioredis'
 *
 * const registry = new RedisSessionRegistry({ client: new Redis(), prefix: 'shop:' })
 * await registry.revokeAll(userId)
 * ```
 */
export class RedisSessionRegistry implements SessionRegistry {
  readonly #client: RedisLike
  readonly #prefix: string
  readonly #ttlMs: number

  constructor(options: RedisSessionRegistryOptions) {
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new SessionConfigError(
        `ttlSeconds must be a positive number of seconds; got ${describeOption(ttlSeconds)}.`,
      )
    }
    this.#client = options.client
    this.#prefix = options.prefix ?? DEFAULT_PREFIX
    this.#ttlMs = Math.ceil(ttlSeconds * 1000)
  }

  async create(record: SessionRecord): Promise<void> {
    checkRegistryText({
      id: record.id,
      userId: record.userId,
      ip: record.ip,
      userAgent: record.userAgent,
    })
    const created = await this.#client.eval(
      CREATE,
      2,
      this.#sessionKey(record.id),
      this.#userKey(record.userId),
      record.userId,
      record.createdAt.getTime(),
      record.lastSeenAt.getTime(),
      optional(record.ip),
      optional(record.userAgent),
      this.#ttlMs,
      record.id,
    )
    if (Number(created) !== 1) throw new SessionExistsError()
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    checkRegistryText({ id })
    return toRecord(id, await this.#client.hgetall(this.#sessionKey(id)))
  }

  async touch(id: string, lastSeenAt: Date): Promise<void> {
    checkRegistryText({ id })
    await this.#client.eval(
      TOUCH,
      1,
      this.#sessionKey(id),
      lastSeenAt.getTime(),
      this.#ttlMs,
      this.#userKey(''),
    )
  }

  async list(userId: string): Promise<readonly SessionRecord[]> {
    checkRegistryText({ userId })
    const flat = (await this.#client.eval(
      LIST,
      1,
      this.#userKey(userId),
      this.#sessionKey(''),
    )) as unknown[]
    const records: SessionRecord[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const fields = flat[i + 1] as string[]
      const hash: Record<string, string> = {}
      for (let j = 0; j + 1 < fields.length; j += 2)
        hash[fields[j] as string] = fields[j + 1] as string
      const record = toRecord(String(flat[i]), hash)
      if (record !== undefined) records.push(record)
    }
    return records
  }

  async revoke(session: SessionOwner): Promise<boolean> {
    checkRegistryText({ id: session.id, userId: session.userId })
    const revoked = await this.#client.eval(
      REVOKE,
      2,
      this.#sessionKey(session.id),
      this.#userKey(session.userId),
      session.userId,
      session.id,
    )
    return Number(revoked) === 1
  }

  async revokeAll(userId: string, options: { readonly except?: string } = {}): Promise<number> {
    checkRegistryText({ userId, except: options.except })
    const revoked = await this.#client.eval(
      REVOKE_ALL,
      1,
      this.#userKey(userId),
      this.#sessionKey(''),
      optional(options.except),
    )
    return Number(revoked)
  }

  #sessionKey(id: string): string {
    return `${this.#prefix}session:${id}`
  }

  #userKey(userId: string): string {
    return `${this.#prefix}user-sessions:${userId}`
  }
}

function optional(value: string | undefined): string {
  return value === undefined ? '' : `=${value}`
}

function toRecord(id: string, hash: Record<string, string>): SessionRecord | undefined {
  const { userId, createdAt, lastSeenAt } = hash
  if (userId === undefined || createdAt === undefined || lastSeenAt === undefined) return undefined
  return {
    id,
    userId,
    createdAt: new Date(Number(createdAt)),
    lastSeenAt: new Date(Number(lastSeenAt)),
    ip: hash.ip,
    userAgent: hash.userAgent,
  }
}

/** Options of {@link redisSessionRegistry}. */
export type RedisSessionRegistryModuleOptions = Omit<
  RedisSessionRegistryOptions,
  'client' | 'prefix'
>

/**
 * A module binding `SESSION_REGISTRY` to a {@link RedisSessionRegistry} on the app's Redis
 * (`createApp({ redis })`): its shared connection and key prefix, connected on `app.start()`
 * and closed on `app.stop()` by the app.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { redisSessionRegistry } from '@mortar/session'
 *
 * const app = createApp({
 *   redis: { url: 'redis://127.0.0.1:6379', prefix: 'shop:' },
 *   modules: [redisSessionRegistry({ ttlSeconds: 7 * 24 * 3600 })],
 * })
 * ```
 */
export function redisSessionRegistry(options: RedisSessionRegistryModuleOptions = {}): Module {
  return defineModule({
    name: SESSION_REGISTRY_MODULE,
    register(binder) {
      binder.bind(SESSION_REGISTRY, {
        inject: [REDIS],
        useFactory: (redis) =>
          new RedisSessionRegistry({ ...options, client: redis.client, prefix: redis.prefix }),
      })
    },
  })
}
