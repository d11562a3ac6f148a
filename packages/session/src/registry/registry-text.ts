// Internal: the check every built-in SessionRegistry makes on the text it stores or looks up.
import { hasLoneSurrogate, ValidationError } from '@mortar/core'

/**
 * Throws core's ValidationError when any given field (session id, user id, ip, user agent) holds
 * a lone surrogate: SQL drivers and Redis write text as UTF-8, which writes U+FFFD, so the users
 * 'u\ud800' and 'u\udfff' would be one, each listing and revoking the other's sessions.
 */
export function checkRegistryText(fields: Readonly<Record<string, string | undefined>>): void {
  const issues = Object.entries(fields).flatMap(([path, value]) =>
    value === undefined || !hasLoneSurrogate(value)
      ? []
      : [
          {
            path,
            code: 'invalid_session_text',
            message: `The ${path} must be well-formed Unicode (no lone surrogate).`,
          },
        ],
  )
  if (issues.length > 0) throw new ValidationError(issues)
}
