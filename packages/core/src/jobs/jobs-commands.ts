import type { CliCommand, CliContext } from '../cli/cli-command.js'
import { censorJson } from '../logger/censor-json.js'
import { JOBS, type JobQueue } from './job-queue.js'
import type { JobInfo, JobState } from './queue-adapter.js'

const STATES: readonly JobState[] = ['pending', 'scheduled', 'running', 'stalled', 'dead']

function queueOf(context: CliContext): JobQueue | undefined {
  try {
    return context.app.resolve(JOBS)
  } catch {
    context.stderr(
      'This app has no jobs: no module declares any, and createApp has no `jobs` option.',
    )
    return undefined
  }
}

function describeJob(job: JobInfo): string {
  const progress = job.progress === undefined ? '' : `  progress ${shown(job.progress)}`
  const key = job.key === undefined ? '' : `  key ${job.key}`
  return `#${job.id} ${job.name}  attempt ${job.attempts}/${job.maxAttempts}${key}${progress}`
}

// A payload may hold a reset token or a webhook's key: a terminal or a CI log shows it censored
// as the logger would.
function shown(value: unknown): string {
  return censorJson(JSON.stringify(value) ?? 'undefined')
}

/** `mortar jobs status|dead|retry|purge`: the app's queue on any engine. */
export const jobsCommands: readonly CliCommand[] = [
  {
    name: 'jobs status',
    summary: 'jobs by name and state, running jobs with their progress',
    async run(context) {
      const queue = queueOf(context)
      if (queue === undefined) return 1
      const status = await queue.status()
      context.stdout(`engine: ${status.engine}`)
      const names = [...new Set(status.counts.map((count) => count.name))].sort()
      if (names.length === 0) {
        context.stdout('No jobs.')
      } else {
        const width = Math.max(4, ...names.map((name) => name.length))
        context.stdout(
          `${'name'.padEnd(width)}  ${STATES.map((state) => state.padStart(9)).join(' ')}`,
        )
        for (const name of names) {
          const cells = STATES.map((state) =>
            String(
              status.counts.find((c) => c.name === name && c.state === state)?.count ?? 0,
            ).padStart(9),
          )
          context.stdout(`${name.padEnd(width)}  ${cells.join(' ')}`)
        }
      }
      if (status.running.length > 0) {
        context.stdout('running:')
        for (const job of status.running) context.stdout(`  ${describeJob(job)}  on ${job.worker}`)
      }
      if (status.unknownNames.length > 0) {
        context.stdout(
          `no module of this app declares: ${status.unknownNames.join(', ')} (left in the queue)`,
        )
      }
      return 0
    },
  },
  {
    name: 'jobs dead',
    summary: 'dead jobs with every attempt’s error',
    usage: '[--limit n]',
    async run(context) {
      const queue = queueOf(context)
      if (queue === undefined) return 1
      const limitIndex = context.args.indexOf('--limit')
      const limit = limitIndex === -1 ? 100 : Number(context.args[limitIndex + 1])
      if (!Number.isInteger(limit) || limit < 1) {
        context.stderr('--limit must be a whole number of 1 or more.')
        return 2
      }
      const dead = await queue.list({ state: 'dead', limit })
      if (dead.length === 0) context.stdout('No dead jobs.')
      for (const job of dead) {
        context.stdout(`${describeJob(job)}  died ${job.deadAt?.toISOString() ?? ''}`)
        context.stdout(`  payload ${shown(job.payload)}`)
        for (const error of job.errors) {
          context.stdout(
            `  attempt ${error.attempt} at ${error.at}: ${error.name}${error.code ? ` [${error.code}]` : ''}: ${error.message}`,
          )
        }
      }
      return 0
    },
  },
  {
    name: 'jobs retry',
    summary: 'make dead jobs pending again, with fresh attempts',
    usage: '<id…|all>',
    async run(context) {
      const queue = queueOf(context)
      if (queue === undefined) return 1
      const ids = context.args.filter((arg) => !arg.startsWith('--'))
      if (ids.length === 0) {
        context.stderr(
          'Say which dead jobs to retry: `mortar jobs retry <id…>` or `mortar jobs retry all`.',
        )
        return 2
      }
      const retried = await queue.retry(ids.length === 1 && ids[0] === 'all' ? 'all' : ids)
      context.stdout(`Retried ${retried} dead job${retried === 1 ? '' : 's'}.`)
      return 0
    },
  },
  {
    name: 'jobs purge',
    summary: 'delete dead jobs (--waiting: pending and scheduled ones too; never running ones)',
    usage: '[--waiting]',
    async run(context) {
      const queue = queueOf(context)
      if (queue === undefined) return 1
      const waiting = context.args.includes('--waiting')
      const purged = await queue.purge(waiting ? ['dead', 'pending', 'scheduled'] : ['dead'])
      context.stdout(`Deleted ${purged} job${purged === 1 ? '' : 's'}.`)
      return 0
    },
  },
]
