import { InvalidPasswordHashError } from '../errors.js'

/** scrypt's cost parameters as a PHC string records them: N = 2^logN, block size r, parallelism p. */
export interface ScryptCost {
  /** The base-2 logarithm of N, the CPU/memory cost (17 means N = 131072). */
  readonly logN: number
  /** The block size; memory is 128 · N · r bytes. */
  readonly r: number
  /** The parallelisation factor. */
  readonly p: number
}

/** A parsed `$scrypt$ln=…,r=…,p=…$salt$hash` string. */
export interface ScryptPhc {
  readonly cost: ScryptCost
  readonly salt: Buffer
  readonly hash: Buffer
}

// Upper bounds for parsing, so a tampered or corrupted row cannot make one login allocate
// gigabytes or spin for minutes.
const MAX_LOG_N = 24
const MAX_R = 64
const MAX_P = 16
const MAX_MEMORY_BYTES = 1024 * 1024 * 1024
const B64 = /^[A-Za-z0-9+/]+$/

/** The memory scrypt needs for `cost` (OpenSSL's rule: 128 · r · (N + p + 2) bytes). */
export function scryptMemory(cost: ScryptCost): number {
  return 128 * cost.r * (2 ** cost.logN + cost.p + 2)
}

/** Formats a PHC string: standard base64 without padding, as the PHC format specifies. */
export function formatScryptPhc(phc: ScryptPhc): string {
  const { logN, r, p } = phc.cost
  return `$scrypt$ln=${logN},r=${r},p=${p}$${b64(phc.salt)}$${b64(phc.hash)}`
}

/** Parses a PHC string made by {@link formatScryptPhc}; throws InvalidPasswordHashError. */
export function parseScryptPhc(value: unknown): ScryptPhc {
  if (typeof value !== 'string') throw new InvalidPasswordHashError('not a string')
  const parts = value.split('$')
  // '', 'scrypt', params, salt, hash
  if (parts.length !== 5 || parts[0] !== '') throw new InvalidPasswordHashError('not a PHC string')
  const [, id, params = '', salt = '', hash = ''] = parts
  if (id !== 'scrypt') throw new InvalidPasswordHashError('the algorithm is not scrypt')
  const match = /^ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})$/.exec(params)
  if (match === null) throw new InvalidPasswordHashError('the parameters are not ln=…,r=…,p=…')
  const cost = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) }
  checkCost(cost, (reason) => new InvalidPasswordHashError(reason))
  if (!B64.test(salt) || !B64.test(hash)) throw new InvalidPasswordHashError('bad base64')
  const saltBytes = Buffer.from(salt, 'base64')
  const hashBytes = Buffer.from(hash, 'base64')
  if (saltBytes.length < 8) throw new InvalidPasswordHashError('the salt is shorter than 8 bytes')
  if (hashBytes.length < 16 || hashBytes.length > 128) {
    throw new InvalidPasswordHashError('the hash is not 16 to 128 bytes long')
  }
  return { cost, salt: saltBytes, hash: hashBytes }
}

/** Throws `fail(reason)` when `cost` is outside what this package accepts. */
export function checkCost(cost: ScryptCost, fail: (reason: string) => Error): void {
  const { logN, r, p } = cost
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_LOG_N) {
    throw fail(`ln must be an integer from 1 to ${MAX_LOG_N}`)
  }
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) throw fail(`r must be from 1 to ${MAX_R}`)
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) throw fail(`p must be from 1 to ${MAX_P}`)
  if (scryptMemory(cost) > MAX_MEMORY_BYTES) throw fail('the cost needs more than 1 GiB of memory')
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}
