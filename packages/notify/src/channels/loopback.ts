import { BlockList, isIP } from 'node:net'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** True for a loopback IP address; BlockList judges `::ffff:127.0.0.1` by its IPv4 address. */
export function isLoopbackAddress(ip: string | undefined): boolean {
  const family = ip === undefined ? 0 : isIP(ip)
  return family !== 0 && LOOPBACK.check(ip as string, family === 6 ? 'ipv6' : 'ipv4')
}

/**
 * True when a URL names this machine (`localhost`, `127.0.0.0/8`, `[::1]`): the one place a
 * secret may travel without TLS, since it never leaves the machine.
 */
export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return host === 'localhost' || isLoopbackAddress(host)
}
