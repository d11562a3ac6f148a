import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { App } from '../app/app.js'
import { isMortarError } from '../errors/index.js'

/** Where {@link runCli} writes; the process streams by default. */
export interface CliIo {
  readonly stdout: (line: string) => void
  readonly stderr: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

const USAGE = `Usage: mortar migrate <up|down|status> [--app <file>] [--steps <n>]

  up       apply every pending migration, modules in order
  down     revert the newest migration (or --steps n of them)
  status   list every migration and whether it is applied

The app file (--app, or MORTAR_APP) default-exports an App or a function returning one.`

type AppLike = Pick<App<unknown>, 'migrate' | 'migrationStatus' | 'stop'>

/**
 * The `mortar` command: `mortar migrate up|down|status --app ./dist/app.js`. Returns the exit
 * code (0 done, 1 failed, 2 wrong usage) instead of exiting, so it can be tested.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const args = [...argv]
  const appPath = takeOption(args, '--app') ?? io.env.MORTAR_APP
  const stepsText = takeOption(args, '--steps')
  const [command, action] = args
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.stdout(USAGE)
    return command === undefined ? 2 : 0
  }
  if (command !== 'migrate' || (action !== 'up' && action !== 'down' && action !== 'status')) {
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
    app = await loadApp(appPath)
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

async function loadApp(path: string): Promise<AppLike> {
  const loaded = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown }
  let candidate = loaded.default
  if (typeof candidate === 'function') candidate = await (candidate as () => unknown)()
  if (!isAppLike(candidate)) {
    throw new Error('its default export is neither an App nor a function returning one.')
  }
  return candidate
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

function describe(error: unknown): string {
  if (isMortarError(error)) return `${error.message} [${error.code}]`
  return error instanceof Error ? error.message : String(error)
}
