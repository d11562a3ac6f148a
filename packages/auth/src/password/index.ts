export { OWASP_SCRYPT_COST, PASSWORD_HASHER, PasswordHasher } from './password-hasher.js'
export type { PasswordHasherOptions } from './password-hasher.js'
export type { ScryptCost } from './scrypt-phc.js'
