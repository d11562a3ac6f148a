export { ChatChannel, chatChannel } from './chat-channel.js'
export type { ChatChannelOptions } from './chat-channel.js'
export { escapeChat } from './escape-chat.js'
export type { ChatMessage } from './chat-message.js'
