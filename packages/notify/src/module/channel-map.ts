import type { AnyChannel, ChannelName } from '../channels/channel.js'
import { NotifyConfigError } from '../errors.js'
import { isChannelName, NOT_A_NAME, shownName } from '../notification/render.js'

/** The channels by name, checked (`owner` names who was given them: `notifyModule`). */
export function channelMap(
  list: readonly AnyChannel[],
  owner = 'notifyModule',
): ReadonlyMap<ChannelName, AnyChannel> {
  if (!Array.isArray(list) || list.length === 0) {
    throw new NotifyConfigError(
      `${owner} needs at least one channel: channels: [mailChannel(…), inboxChannel()].`,
    )
  }
  const channels = new Map<ChannelName, AnyChannel>()
  for (const channel of list) {
    if (typeof channel?.send !== 'function' || typeof channel.name !== 'string') {
      throw new NotifyConfigError(`${owner}: every channel needs a name and a send() method.`)
    }
    if (!isChannelName(channel.name)) {
      throw new NotifyConfigError(
        `${owner}: a channel is named ${shownName(channel.name)}, ${NOT_A_NAME}.`,
      )
    }
    if (channels.has(channel.name)) {
      throw new NotifyConfigError(
        `${owner}: two '${channel.name}' channels; give one channel per name, or wrap providers in fallbackChannel([...]).`,
      )
    }
    channels.set(channel.name, channel)
  }
  return channels
}
