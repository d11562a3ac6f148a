import { withoutSecretPairs } from './secret-fields.js'
import { withoutUrlPasswords } from './url-passwords.js'

/**
 * `text` censored as the logger censors a message: secrets written as text (`api_key=…`,
 * `Authorization: Bearer …`, a PEM private key) and URL passwords. For error text that leaves
 * the process another way than the logger: kept with a job, printed by the `mortar` commands.
 */
export function censorText(text: string): string {
  return withoutUrlPasswords(withoutSecretPairs(text))
}
