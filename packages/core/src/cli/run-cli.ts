import { envValue } from '../config/environment.js'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { App } from '../app/app.js'
import { modulesOf } from '../app/create-app.js'
import { onStopSignal } from '../app/stop-on-signals.js'
import { isMortarError } from '../errors/index.js'
import { jobsCommands } from '../jobs/jobs-commands.js'
import { censorText } from '../logger/censor-text.js'
import type { CliCommand } from './cli-command.js'
import { thrownText } from '../errors/thrown-text.js'

/** Where {@link runCli} writes; the process streams by default. */
export interface CliIo {
  readonly stdout: (line: string) => void
  readonly stderr: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  /**
   * Resolves when `mortar worker` should stop; by default the first SIGTERM, SIGINT or SIGHUP. Tests
   * pass their own.
   */
  readonly stopSignal?: Promise<unknown>
}

const USAGE = `Usage: mortar <command> [--app <file>]

  migrate up             apply every pending migration, modules in order
  migrate down           revert the newest migration (or --steps n of them)
  migrate status         list every migration and whether it is applied
  worker                 run the app's job workers and schedules until SIGTERM, SIGINT or SIGHUP
  jobs status            jobs by name and state, running jobs with their progress
  jobs dead [--limit n]  dead jobs with every attempt's error
  jobs retry <id…|all>   make dead jobs pending again
  jobs purge [--waiting] delete dead jobs (and waiting ones)

Modules may add commands: \`mortar help --app <file>\` lists them.
The app file (--app, or MORTAR_APP) default-exports an App or a function returning one.`

type AppLike = Pick<App<unknown>, 'migrate' | 'migrationStatus' | 'stop'>

/**
 * The `mortar` command: migrations, job workers, job operations, and the commands of the app's
 * modules. Returns the exit code (0 done, 1 failed, 2 wrong usage) instead of exiting, so it
 * can be tested.
 */
export async function runCli(argv: readonly string[], given: CliIo): Promise<number> {
  // What commands print comes from stored data (a job's key, a provider's error reply): its
  // control characters are shown, not sent to the terminal, where an escape sequence could
  // rewrite the screen, retitle the window or fake an answer.
  const io: CliIo = {
    ...given,
    stdout: (line) => given.stdout(printable(line)),
    stderr: (line) => given.stderr(printable(line)),
  }
  const args = [...argv]
  const appPath = takeOption(args, '--app') ?? envValue(io.env, 'MORTAR_APP')
  const [command, action] = args
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.stdout(USAGE)
    if (command !== undefined && appPath !== undefined) await listModuleCommands(appPath, io)
    return command === undefined ? 2 : 0
  }
  if (command === 'migrate') return migrate(args, action, appPath, io)
  if (appPath === undefined) {
    io.stderr(`No app file: pass --app <file> or set MORTAR_APP.\n\n${USAGE}`)
    return 2
  }
  if (command === 'worker') return worker(appPath, io)
  return appCommand(args, appPath, io)
}

async function migrate(
  args: string[],
  action: string | undefined,
  appPath: string | undefined,
  io: CliIo,
): Promise<number> {
  const stepsText = takeOption(args, '--steps')
  if (action !== 'up' && action !== 'down' && action !== 'status') {
    io.stderr(`Unknown command: ${args.join(' ')}\n\n${USAGE}`)
    return 2
  }
  const steps = stepsText === undefined ? undefined : Number(stepsText)
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
    io.stderr(`--steps must be a whole number of 1 or more (got ${stepsText}).`)
    return 2
  }
  if (appPath === undefined) {
    io.stderr(`No app file: pass --app <file> or set MORTAR_APP.\n\n${USAGE}`)
    return 2
  }
  let app: AppLike
  try {
    app = await loadApp(appPath, 'false')
  } catch (error) {
    io.stderr(`Cannot load the app from ${appPath}: ${describe(error)}`)
    return 1
  }
  try {
    if (action === 'status') {
      const status = await app.migrationStatus()
      if (status.length === 0) io.stdout('No migrations: no module of this app defines any.')
      for (const entry of status) {
        io.stdout(
          `${entry.appliedAt === undefined ? 'pending ' : 'applied '} ${entry.name}${entry.appliedAt ? `  (${entry.appliedAt})` : ''}`,
        )
      }
      const pending = status.filter((entry) => entry.appliedAt === undefined).length
      io.stdout(`\n${status.length - pending} applied, ${pending} pending.`)
      return 0
    }
    const report = await app.migrate(
      action === 'down' ? { direction: 'down', ...(steps === undefined ? {} : { steps }) } : {},
    )
    if (report.ran.length === 0) {
      io.stdout(
        action === 'up' ? 'Nothing to migrate: the database is up to date.' : 'Nothing to revert.',
      )
    } else {
      const verb = action === 'up' ? 'Applied' : 'Reverted'
      io.stdout(`${verb} ${report.ran.length} migration${report.ran.length === 1 ? '' : 's'}:`)
      for (const name of report.ran) io.stdout(`  ${action === 'up' ? '+' : '-'} ${name}`)
    }
    return 0
  } catch (error) {
    io.stderr(`migrate ${action} failed: ${describe(error)}`)
    return 1
  } finally {
    await app
      .stop()
      .catch((error: unknown) => io.stderr(`Stopping the app failed: ${describe(error)}`))
  }
}

/** `mortar worker`: the app with its workers and schedules on, until a signal. */
async function worker(appPath: string, io: CliIo): Promise<number> {
  let app: App<unknown>
  try {
    app = (await loadApp(appPath, 'true')) as App<unknown>
    await app.start()
  } catch (error) {
    io.stderr(`Cannot start the app from ${appPath}: ${describe(error)}`)
    return 1
  }
  io.stdout(`Worker started (pid ${process.pid}); SIGTERM, SIGINT or SIGHUP stops it.`)
  // The workers' timers do not hold the process open by themselves: this does, until a signal.
  const keepAlive = setInterval(() => undefined, 1 << 30)
  // The handlers stay while the app stops: a second Ctrl-C met Node's default and ended the
  // worker mid-stop.
  let removeHandlers = (): void => undefined
  await (io.stopSignal ??
    new Promise((resolve) => {
      removeHandlers = onStopSignal(resolve, app.logger)
    }))
  clearInterval(keepAlive)
  try {
    await app.stop()
    io.stdout('Worker stopped.')
    return 0
  } catch (error) {
    io.stderr(`The worker did not stop cleanly: ${describe(error)}`)
    return 1
  } finally {
    removeHandlers()
  }
}

/** A built-in jobs command or a module's command, with the app started and workers off. */
async function appCommand(args: string[], appPath: string, io: CliIo): Promise<number> {
  let app: App<unknown>
  try {
    app = (await loadApp(appPath, 'false')) as App<unknown>
  } catch (error) {
    io.stderr(`Cannot load the app from ${appPath}: ${describe(error)}`)
    return 1
  }
  const match = findCommand(commandsOf(app), args)
  if (match === undefined) {
    io.stderr(`Unknown command: ${args.join(' ')}\n\n${USAGE}`)
    await app.stop().catch(() => undefined)
    return 2
  }
  try {
    await app.start()
    // Each call is one line: a newline in stored data (a provider's error reply) would print a
    // line of its own, one a reader takes for a real one.
    const code = await match.command.run({
      app,
      args: match.rest,
      stdout: (line) => io.stdout(oneLine(line)),
      stderr: (line) => io.stderr(oneLine(line)),
    })
    return code ?? 0
  } catch (error) {
    io.stderr(`${match.command.name} failed: ${describe(error)}`)
    return 1
  } finally {
    await app
      .stop()
      .catch((error: unknown) => io.stderr(`Stopping the app failed: ${describe(error)}`))
  }
}

function commandsOf(app: object): CliCommand[] {
  const modules = modulesOf(app) ?? []
  return [...jobsCommands, ...modules.flatMap((module) => module.commands ?? [])]
}

/** The command whose name is the longest run of leading words; the words after are its args. */
function findCommand(
  commands: readonly CliCommand[],
  args: readonly string[],
): { command: CliCommand; rest: string[] } | undefined {
  let best: { command: CliCommand; rest: string[] } | undefined
  let bestLength = 0
  for (const command of commands) {
    const words = command.name.split(' ')
    if (words.length <= bestLength) continue
    if (words.every((word, index) => args[index] === word)) {
      best = { command, rest: args.slice(words.length) }
      bestLength = words.length
    }
  }
  return best
}

async function listModuleCommands(appPath: string, io: CliIo): Promise<void> {
  try {
    const app = (await loadApp(appPath, 'false')) as App<unknown>
    const commands = (modulesOf(app) ?? []).flatMap((module) => module.commands ?? [])
    if (commands.length > 0) {
      io.stdout('\nCommands of this app’s modules:')
      for (const command of commands) {
        io.stdout(
          `  ${`${command.name} ${command.usage ?? ''}`.trim().padEnd(22)} ${command.summary}`,
        )
      }
    }
    await app.stop()
  } catch (error) {
    io.stderr(`Cannot load the app from ${appPath}: ${describe(error)}`)
  }
}

/**
 * Loads the app file with `MORTAR_WORKERS` set for the role (the app reads it when created),
 * then puts the variable back.
 */
async function loadApp(path: string, workers: 'true' | 'false'): Promise<AppLike> {
  const previous = process.env.MORTAR_WORKERS
  process.env.MORTAR_WORKERS = workers
  try {
    const loaded = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown }
    let candidate = loaded.default
    if (typeof candidate === 'function') candidate = await (candidate as () => unknown)()
    if (!isAppLike(candidate)) {
      throw new Error('its default export is neither an App nor a function returning one.')
    }
    return candidate
  } finally {
    if (previous === undefined) delete process.env.MORTAR_WORKERS
    else process.env.MORTAR_WORKERS = previous
  }
}

function isAppLike(value: unknown): value is AppLike {
  const app = value as Partial<AppLike> | null
  return (
    typeof app === 'object' &&
    app !== null &&
    typeof app.migrate === 'function' &&
    typeof app.migrationStatus === 'function' &&
    typeof app.stop === 'function'
  )
}

function takeOption(args: string[], name: string): string | undefined {
  const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`))
  if (index === -1) return undefined
  const arg = args[index] as string
  if (arg.includes('=')) {
    args.splice(index, 1)
    return arg.slice(name.length + 1)
  }
  const value = args[index + 1]
  args.splice(index, 2)
  return value
}

// C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and
// isolates that reorder what a line seems to say.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/** The line with each unprintable character written as its `\u` escape. */
function printable(line: string): string {
  return line.replace(
    UNPRINTABLE,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** The line with its newlines written as `\u000a`, as {@link printable} writes the rest. */
function oneLine(line: string): string {
  return line.replaceAll('\n', '\\u000a')
}

// Censored as the logger would: a driver's error quotes the URL it failed on, password included.
function describe(error: unknown): string {
  const text = thrownText(error)
  return censorText(isMortarError(error) ? `${text} [${error.code}]` : text)
}
