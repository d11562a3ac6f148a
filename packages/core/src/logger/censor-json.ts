import { jsonWithoutSecretFields } from './secret-fields.js'
import { jsonWithoutUrlPasswords } from './url-passwords.js'

/**
 * `json` with every secret the logger censors censored: secret-named fields at any depth,
 * secrets written as text in its strings, and URL passwords. For a line the logger writes and
 * for what the `mortar` commands print (a job's payload).
 */
export function censorJson(json: string): string {
  return jsonWithoutUrlPasswords(jsonWithoutSecretFields(json))
}
