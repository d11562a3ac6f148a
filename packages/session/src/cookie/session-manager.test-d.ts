// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import type { SessionRegistry } from '../registry/session-registry.js'
import type { SessionManager } from './session-manager.js'

export async function revokeNamesTheOwner(
  sessions: SessionManager,
  registry: SessionRegistry,
  id: string,
  userId: string | undefined,
): Promise<void> {
  // @ts-expect-error: a session id alone could be anyone's session
  await sessions.revoke(id)
  // @ts-expect-error: a session id alone could be anyone's session
  await registry.revoke(id)
  // @ts-expect-error: a signed-out request has no owner to name
  await sessions.revoke({ id, userId })
  if (userId !== undefined) await sessions.revoke({ id, userId })
  const [device] = await registry.list(userId ?? '')
  if (device !== undefined) await registry.revoke(device)
}

// A registry written for revoke(id) must not pass for one: it would read the owner as the id.
export const oldRegistry: SessionRegistry = {
  create: async () => undefined,
  find: async () => undefined,
  touch: async () => undefined,
  list: async () => [],
  // @ts-expect-error: revoke takes { id, userId }
  revoke: async (id: string) => id.length > 0,
  revokeAll: async () => 0,
}
