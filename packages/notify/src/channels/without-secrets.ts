/**
 * `text` with each of `secrets` replaced by `…`. A channel's reason quotes the provider's answer
 * (an HTTP body, an SMTP reply), and an answer may echo the request, credentials and all (a
 * gateway quoting the `Authorization` header, a server quoting the password it refused): the
 * reason is stored in the ledger, published with `notification.failed` and printed by
 * `mortar notify status`. Apply it to the whole answer, before any cut to length leaves part
 * of a secret. Secrets under 4 characters are left: replacing them would garble the text.
 */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let result = text
  for (const secret of secrets.filter((one) => one.length >= 4).sort((a, b) => b.length - a.length))
    result = result.replaceAll(secret, '…')
  return result
}
