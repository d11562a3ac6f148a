export { NOTIFY_JOBS, notifyModule } from './notify-module.js'
export type { NotifyModuleOptions } from './notify-options.js'
export { DELIVERIES, NOTIFIER, PREFERENCES } from './notify-tokens.js'
export { notify, useRunningNotifier } from './running-notifiers.js'
