export type { AppJobs, JobsOptions, QueueAdapterContext } from './app-jobs.js'
export { createAppJobs, JOBS_MODULE } from './app-jobs.js'
export type { BackoffOptions } from './backoff.js'
export { defineJob } from './define-job.js'
export type {
  JobDeadHandler,
  JobDeath,
  JobDefinition,
  JobDefinitionInit,
  JobHandler,
  JobPayload,
  JobPrepareHandler,
  JobClaimRead,
  Carried,
} from './define-job.js'
export type { JobContext, JobProgress, JsonValue } from './job-context.js'
export {
  isPermanentJobError,
  JobError,
  PermanentJobError,
  RetryLaterJobError,
} from './job-errors.js'
export type { JobErrorCode, RetryLaterJobErrorOptions } from './job-errors.js'
export { JOBS } from './job-queue.js'
export type {
  CompanionWrite,
  CompletionWrite,
  DrainOptions,
  EnqueueItem,
  EnqueueManyOptions,
  EnqueueOptions,
  JobQueue,
  JobsStatus,
} from './job-queue.js'
export { BullmqQueue } from './bullmq/index.js'
export type { BullmqQueueOptions } from './bullmq/index.js'
export { InlineQueue } from './inline/index.js'
export type {
  AttemptError,
  ClaimedJob,
  ClaimRead,
  ClaimRequest,
  FailOutcome,
  JobCount,
  JobInfo,
  JobState,
  ListRequest,
  NewJob,
  QueueAdapter,
} from './queue-adapter.js'
export { enqueue } from './running-queues.js'
export { SqlQueue, sqlQueueMigrations } from './sql/index.js'
export type { SqlQueueOptions } from './sql/index.js'
export type { WorkerSettings } from './worker/worker.js'
export type {
  ScheduleDefinition,
  ScheduleHandler,
  ScheduleJobOptions,
  ScheduleRow,
  ScheduleStore,
  ScheduleTick,
  ScheduleTiming,
} from './schedules/index.js'
export { MemoryScheduleStore, schedule } from './schedules/index.js'
