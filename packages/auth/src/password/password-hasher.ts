import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { createLogger, globalToken, hasLoneSurrogate, type Logger } from '@mortar/core'
import {
  InvalidPasswordError,
  InvalidPasswordHashError,
  PasswordHasherBusyError,
  PasswordHasherConfigError,
} from '../errors.js'
import {
  checkCost,
  formatScryptPhc,
  parseScryptPhc,
  type ScryptCost,
  type ScryptPhc,
  scryptMemory,
} from './scrypt-phc.js'

/**
 * OWASP's scrypt recommendation (Password Storage Cheat Sheet, checked November 2026): N = 2^17,
 * r = 8, p = 1. Each hash takes 128 MiB of memory and a few hundred ms of one libuv thread.
 *
 * @example
 * ```ts
 * import { OWASP_SCRYPT_COST, PasswordHasher } from '@mortar/auth'
 *
 * // Twice the memory of the recommendation, for a server that can afford it.
 * const hasher = new PasswordHasher({ cost: { ...OWASP_SCRYPT_COST, logN: OWASP_SCRYPT_COST.logN + 1 } })
 * ```
 */
export const OWASP_SCRYPT_COST: ScryptCost = Object.freeze({ logN: 17, r: 8, p: 1 })

/** Options of {@link PasswordHasher}. */
export interface PasswordHasherOptions {
  /**
   * The cost of new hashes; {@link OWASP_SCRYPT_COST} by default. Lower it only in tests: hashes
   * below the default are reported by `needsRehash` once it is raised again.
   */
  readonly cost?: Partial<ScryptCost>
  /** Length of the derived key in bytes; 32 by default. */
  readonly keyLength?: number
  /** Length of the random salt in bytes; 16 by default. */
  readonly saltLength?: number
  /**
   * Hashes (and verifications) run at once; 2 by default. Each holds one of the 4 threads Node
   * shares with file, DNS and zlib work (`UV_THREADPOOL_SIZE`) for a few hundred ms, so a burst
   * of logins or sign-ups without a cap took them all, and the server stalled on every file
   * read and lookup behind a queue of hashes.
   */
  readonly concurrency?: number
  /**
   * Hashes that may wait for a free slot; 32 by default. One more is refused at once with
   * `PasswordHasherBusyError` (503, `Retry-After: 1`) instead of joining a queue that grows with
   * the burst (and with it every waiting request's memory and latency).
   */
  readonly queueLimit?: number
  /**
   * Where `verifyOrDummy` reports a stored hash it cannot read (at warn, with the reason, never
   * the hash); a logger of its own by default.
   */
  readonly logger?: Logger
}

/**
 * Hashes and verifies passwords with scrypt from `node:crypto`, stored as PHC strings
 * (`$scrypt$ln=17,r=8,p=1$<salt>$<hash>`) that carry their own parameters, so the cost can be
 * raised without breaking older hashes. Verification compares in constant time, and
 * {@link PasswordHasher.verifyOrDummy} spends a full hash on an unknown account, so a login with an
 * unknown email takes as long as one with a known email. Passwords are normalised to Unicode NFC
 * first, so the same password typed on any keyboard matches; one that is not well-formed Unicode
 * (a lone surrogate) throws `InvalidPasswordError`.
 *
 * @example
 * ```ts
 * import { PasswordHasher } from '@mortar/auth'
 *
 * const hasher = new PasswordHasher()
 * const stored = await hasher.hash('correct horse battery staple')
 *
 * const user = await users.findByEmail(email) // may be undefined
 * const ok = await hasher.verifyOrDummy(user?.passwordHash, password)
 * if (ok && user && hasher.needsRehash(user.passwordHash)) {
 *   await users.setPasswordHash(user.id, await hasher.hash(password))
 * }
 * ```
 */
export class PasswordHasher {
  readonly #cost: ScryptCost
  readonly #keyLength: number
  readonly #saltLength: number
  readonly #slots: HashSlots
  // Random bytes in the shape of a real hash: verifying against it costs a full derivation.
  readonly #dummy: ScryptPhc
  #logger: Logger | undefined

  constructor(options: PasswordHasherOptions = {}) {
    this.#cost = { ...OWASP_SCRYPT_COST, ...options.cost }
    this.#keyLength = options.keyLength ?? 32
    this.#saltLength = options.saltLength ?? 16
    this.#logger = options.logger
    const fail = (reason: string) => new PasswordHasherConfigError(`PasswordHasher: ${reason}.`)
    checkCost(this.#cost, fail)
    if (!Number.isInteger(this.#keyLength) || this.#keyLength < 16 || this.#keyLength > 128) {
      throw fail('keyLength must be an integer from 16 to 128 bytes')
    }
    if (!Number.isInteger(this.#saltLength) || this.#saltLength < 16 || this.#saltLength > 64) {
      throw fail('saltLength must be an integer from 16 to 64 bytes')
    }
    const concurrency = options.concurrency ?? 2
    const queueLimit = options.queueLimit ?? 32
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw fail('concurrency must be an integer ≥ 1')
    }
    if (!Number.isInteger(queueLimit) || queueLimit < 0) {
      throw fail('queueLimit must be an integer ≥ 0')
    }
    this.#slots = new HashSlots(concurrency, queueLimit)
    this.#dummy = {
      cost: this.#cost,
      salt: randomBytes(this.#saltLength),
      hash: randomBytes(this.#keyLength),
    }
  }

  /** The cost of new hashes. */
  get cost(): ScryptCost {
    return { ...this.#cost }
  }

  /** Hashes `password` with a fresh random salt and returns the PHC string to store. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(this.#saltLength)
    const typed = normalize(password)
    const hash = await this.#slots.run(() => derive(typed, salt, this.#keyLength, this.#cost))
    return formatScryptPhc({ cost: this.#cost, salt, hash })
  }

  /**
   * True when `password` matches the stored PHC string, compared in constant time with the
   * parameters the string records. A string that is not an scrypt PHC string throws
   * `InvalidPasswordHashError` rather than answering false, so corrupted data is noticed.
   */
  async verify(stored: string, password: string): Promise<boolean> {
    // The password first: a bad one is the caller's 400 whatever the stored hash is.
    const typed = normalize(password)
    return this.#matches(parseScryptPhc(stored), typed)
  }

  /**
   * {@link PasswordHasher.verify} when there is a stored hash; otherwise (unknown account, or one
   * without a password: `undefined`, `null` or `''`) a full verification against a dummy hash,
   * answering false. A stored hash it cannot read (bcrypt, truncated) answers false the same way,
   * reported to the logger, rather than a 500 that only those accounts would get. Use it in every
   * login, so neither the response time nor an error tells which emails have accounts.
   */
  async verifyOrDummy(stored: string | null | undefined, password: string): Promise<boolean> {
    const typed = normalize(password)
    if (stored === undefined || stored === null || stored === '') return this.#dummyMatch(typed)
    let phc: ScryptPhc
    try {
      phc = parseScryptPhc(stored)
    } catch (error) {
      if (!(error instanceof InvalidPasswordHashError)) throw error
      this.#logger ??= createLogger({ name: 'mortar.auth.password' })
      this.#logger.warn(
        { code: error.code, reason: error.reason },
        'A stored password hash is not an scrypt PHC string, so its login fails: store hashes made by PasswordHasher.hash()',
      )
      return this.#dummyMatch(typed)
    }
    return this.#matches(phc, typed)
  }

  /** Spends one full verification and answers false: {@link PasswordHasher.verifyOrDummy} without a hash. */
  async dummyVerify(password: string): Promise<false> {
    return this.#dummyMatch(normalize(password))
  }

  async #dummyMatch(typed: string): Promise<false> {
    await this.#matches(this.#dummy, typed)
    return false
  }

  /** Whether the `normalize`d password `typed` derives the hash `phc` records. */
  async #matches(phc: ScryptPhc, typed: string): Promise<boolean> {
    const candidate = await this.#slots.run(() =>
      derive(typed, phc.salt, phc.hash.length, phc.cost),
    )
    return timingSafeEqual(candidate, phc.hash)
  }

  /**
   * True when the stored hash was made with weaker settings than this hasher's (a lower N, r or
   * p, a shorter key or salt): after a successful login, hash the password again and store it.
   */
  needsRehash(stored: string): boolean {
    const { cost, salt, hash } = parseScryptPhc(stored)
    return (
      cost.logN < this.#cost.logN ||
      cost.r < this.#cost.r ||
      cost.p < this.#cost.p ||
      hash.length < this.#keyLength ||
      salt.length < this.#saltLength
    )
  }
}

/**
 * The app's {@link PasswordHasher}. Bind it once (`binder.bind(PASSWORD_HASHER, { useValue: new
 * PasswordHasher() })`) and inject it wherever passwords are set or checked.
 *
 * @example
 * ```ts
 * import { PASSWORD_HASHER, PasswordHasher } from '@mortar/auth'
 * import { defineModule } from '@mortar/core'
 *
 * export const usersModule = defineModule({
 *   name: 'users',
 *   register(binder) {
 *     binder.bind(PASSWORD_HASHER, { useValue: new PasswordHasher() })
 *   },
 * })
 * ```
 */
export const PASSWORD_HASHER = globalToken<PasswordHasher>('mortar.auth.password_hasher')

/**
 * At most `concurrency` derivations at once and `queueLimit` waiting, first come first served;
 * beyond that, refused before any work.
 */
class HashSlots {
  readonly #concurrency: number
  readonly #queueLimit: number
  #running = 0
  readonly #waiting: (() => void)[] = []

  constructor(concurrency: number, queueLimit: number) {
    this.#concurrency = concurrency
    this.#queueLimit = queueLimit
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running < this.#concurrency) {
      this.#running += 1
    } else {
      if (this.#waiting.length >= this.#queueLimit) throw new PasswordHasherBusyError()
      // Woken by a finishing task, which hands its slot over: #running stays as it is.
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
    try {
      return await task()
    } finally {
      const next = this.#waiting.shift()
      if (next === undefined) this.#running -= 1
      else next()
    }
  }
}

function normalize(password: string): string {
  // scrypt encodes the string as UTF-8, which writes a lone surrogate as U+FFFD: 'a\ud800',
  // 'a\udfff' and 'a\ufffd' would be one password.
  if (typeof password !== 'string' || hasLoneSurrogate(password)) {
    throw new InvalidPasswordError()
  }
  return password.normalize('NFC')
}

function derive(
  password: string,
  salt: Buffer,
  keyLength: number,
  cost: ScryptCost,
): Promise<Buffer> {
  const options = {
    N: 2 ** cost.logN,
    r: cost.r,
    p: cost.p,
    // Node's default cap is 32 MiB; N = 2^17, r = 8 needs 128 MiB.
    maxmem: scryptMemory(cost) + 1024 * 1024,
  }
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (error, key) => {
      if (error) reject(error)
      else resolve(key)
    })
  })
}
