import { defineModule, LOGGER, type Logger, type Module, token } from '@mortar/core'
import { SessionExistsError, SessionRegistryUnavailableError } from '../../errors.js'
import {
  SESSION_REGISTRY,
  SESSION_REGISTRY_MODULE,
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
local user = redis.call('hget', KEYS[1], 'userId')
if not user then return 0 end
redis.call('del', KEYS[1])
redis.call('zrem', ARGV[1] .. user, ARGV[2])
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
      throw new RangeError(`ttlSeconds must be a positive number of seconds; got ${ttlSeconds}.`)
    }
    this.#client = options.client
    this.#prefix = options.prefix ?? DEFAULT_PREFIX
    this.#ttlMs = Math.ceil(ttlSeconds * 1000)
  }

  async create(record: SessionRecord): Promise<void> {
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
    return toRecord(id, await this.#client.hgetall(this.#sessionKey(id)))
  }

  async touch(id: string, lastSeenAt: Date): Promise<void> {
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

  async revoke(id: string): Promise<boolean> {
    const revoked = await this.#client.eval(REVOKE, 1, this.#sessionKey(id), this.#userKey(''), id)
    return Number(revoked) === 1
  }

  async revokeAll(userId: string, options: { readonly except?: string } = {}): Promise<number> {
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

/** Options of {@link redisSessionRegistry}: a URL to connect to, or a client you own. */
export type RedisSessionRegistryModuleOptions = (
  | {
      /** `redis://[:password@]host:port[/db]`; the module connects on start and quits on stop. */
      readonly url: string
      readonly client?: never
    }
  | {
      /** Your client (ioredis or compatible); you connect and close it. */
      readonly client: RedisLike
      readonly url?: never
    }
) &
  Omit<RedisSessionRegistryOptions, 'client'>

interface OwnedClient extends RedisLike {
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  on(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * A module binding `SESSION_REGISTRY` to a {@link RedisSessionRegistry}. Given a `url`, it loads
 * ioredis (an optional peer: `npm i ioredis`) only then, connects during `app.start()` and
 * quits on `app.stop()`.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { redisSessionRegistry } from '@mortar/session'
 *
 * const app = createApp({
 *   modules: [redisSessionRegistry({ url: 'redis://127.0.0.1:6379', prefix: 'shop:' })],
 * })
 * ```
 */
export function redisSessionRegistry(options: RedisSessionRegistryModuleOptions): Module {
  // One module value may serve several apps (tests do that): each app gets its own connection,
  // held under a token of this module so onStop closes the one of the app that stops.
  const connection = token<RedisConnection>('mortar.session.registry.redis')
  const { url, client, ...rest } = options
  return defineModule({
    name: SESSION_REGISTRY_MODULE,
    register(binder) {
      binder.bind(connection, {
        inject: [LOGGER],
        useFactory: async (logger): Promise<RedisConnection> =>
          client === undefined
            ? { client: await connect(url, logger), owned: true }
            : { client, owned: false },
      })
      binder.bind(SESSION_REGISTRY, {
        inject: [connection],
        useFactory: (open) => new RedisSessionRegistry({ ...rest, client: open.client }),
      })
    },
    async onStop(app) {
      const open = app.resolve(connection)
      if (!open.owned) return
      const owned = open.client as OwnedClient
      try {
        await owned.quit()
      } catch {
        owned.disconnect()
      }
    },
  })
}

interface RedisConnection {
  readonly client: RedisLike
  /** True when the module connected it from a URL, so it quits it on stop. */
  readonly owned: boolean
}

async function connect(url: string, logger: Logger): Promise<OwnedClient> {
  let Redis: new (url: string, options: Record<string, unknown>) => OwnedClient
  try {
    Redis = (await import('ioredis')).Redis as unknown as typeof Redis
  } catch (error) {
    throw new SessionRegistryUnavailableError(
      'The Redis session registry needs the ioredis package: run `npm i ioredis`.',
      { cause: error },
    )
  }
  // Fail start-up at once rather than queue commands while retrying forever.
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  // ioredis reconnects by itself; without a listener each failed attempt is an unhandled event.
  client.on('error', (error) => {
    logger.warn({ err: error }, `Session registry: Redis at ${redactUrl(url)} failed`)
  })
  try {
    await client.connect()
  } catch (error) {
    client.disconnect()
    throw new SessionRegistryUnavailableError(
      `Cannot reach the Redis session registry at ${redactUrl(url)}: check that Redis runs there.`,
      { cause: error },
    )
  }
  return client
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(invalid URL)'
  }
}
