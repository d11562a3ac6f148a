import { createHash } from 'node:crypto'
import { InboxMarkerError } from '../../errors.js'

/**
 * What the inbox hands a client to give back (a page's marker, a stream's event id, a page's
 * cursor) carries a tag of the recipient it was made for and of its value, so one from another
 * recipient's page (a tab left signed in as someone else) or edited by hand is refused rather
 * than read against this recipient's inbox. Not a secret: a recipient who computes a tag for
 * their own inbox gets only what the inbox would have handed them (a version is also checked
 * against theirs), which `markRead` and `list` already give them.
 */
function tag(kind: string, recipientId: string, value: string): string {
  return createHash('sha256')
    .update(`mortar.inbox.${kind}\u0000${recipientId}\u0000${value}`)
    .digest('base64url')
    .slice(0, 16)
}

const VERSION_MARKER = /^(\d{1,15})\.([\w-]{16})$/

/** The marker of a recipient's inbox version: `<version>.<tag>`. */
export function versionMarker(recipientId: string, version: number): string {
  return `${version}.${tag('version', recipientId, String(version))}`
}

/**
 * The version a marker of {@link versionMarker} names, checked against the recipient and against
 * their version now (`current`, read when the marker is): past it, no page of theirs read it.
 * `InboxMarkerError` (400) otherwise, naming `path`.
 */
export function readVersionMarker(
  recipientId: string,
  marker: unknown,
  current: number,
  path: string,
): number {
  const match = typeof marker === 'string' ? VERSION_MARKER.exec(marker) : null
  const version = Number(match?.[1])
  if (
    match === null ||
    match[2] !== tag('version', recipientId, String(version)) ||
    version > current
  ) {
    throw new InboxMarkerError(path)
  }
  return version
}

/** The cursor of the page after the item at (`createdAt`, `id`). */
export function pageCursor(recipientId: string, createdAt: number, id: string): string {
  const value = JSON.stringify([createdAt, id])
  return Buffer.from(JSON.stringify([createdAt, id, tag('cursor', recipientId, value)])).toString(
    'base64url',
  )
}

/** The position a cursor of {@link pageCursor} names; `InboxMarkerError` (400) otherwise. */
export function readPageCursor(
  recipientId: string,
  cursor: string,
): { readonly createdAt: number; readonly id: string } {
  try {
    const [createdAt, id, mark, ...rest] = JSON.parse(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    ) as unknown[]
    if (
      rest.length === 0 &&
      typeof createdAt === 'number' &&
      Number.isSafeInteger(createdAt) &&
      typeof id === 'string' &&
      mark === tag('cursor', recipientId, JSON.stringify([createdAt, id]))
    ) {
      return { createdAt, id }
    }
  } catch {
    // reported below
  }
  throw new InboxMarkerError('cursor')
}
