export { Cron } from './cron.js'
export { schedule } from './schedule.js'
export type {
  ScheduleDefinition,
  ScheduleHandler,
  ScheduleJobOptions,
  ScheduleTick,
  ScheduleTiming,
} from './schedule.js'
export { MemoryScheduleStore } from './schedule-store.js'
export type { ScheduleRow, ScheduleStore } from './schedule-store.js'
export { Scheduler } from './scheduler.js'
