export { ChatChannel, chatChannel } from './chat-channel.js'
export type { ChatChannelOptions } from './chat-channel.js'
export type { ChatMessage } from './chat-message.js'
