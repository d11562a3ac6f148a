// `scheme://user:password@`: the password is everything between the first ':' of the userinfo
// and the last '@' of the text's run (to a space or a quote). A password pasted unencoded may
// hold '@', '/', '?', '#' or ':' (base64 ones hold '/'), and then the URL is invalid, which is
// when an error quotes it; a run with an '@' further on is censored past its host, never short.
const URL_PASSWORD = /\b([a-z][a-z\d+.-]*:\/\/[^\s:/?#@"]*):[^\s"]*@/gi

/**
 * `text` with the password of every URL in it censored. A JSON line keeps its shape: a run ends
 * at a quote, so no string of the line is censored into the next.
 */
export function withoutUrlPasswords(text: string): string {
  return text.includes('://') ? text.replace(URL_PASSWORD, '$1:[redacted]@') : text
}
