import type { App } from '../app/app.js'

/** What a {@link CliCommand} runs with. */
export interface CliContext {
  /** The app, started with workers off. */
  readonly app: App<unknown>
  /** The words after the command's name, options included (`--app` already taken out). */
  readonly args: readonly string[]
  /** Prints one line: control characters and newlines in it are shown as `\u` escapes. */
  readonly stdout: (line: string) => void
  /** As `stdout`, to standard error. */
  readonly stderr: (line: string) => void
}

/**
 * A command a module adds to the `mortar` bin: `mortar notify status` runs the command named
 * `'notify status'` of the app's modules, with the app started (workers off) and stopped after.
 *
 * @example
 * ```ts
 * import { defineModule } from '@mortar/core'
 *
 * export const notifyModule = defineModule({
 *   name: 'notify',
 *   register() {},
 *   commands: [
 *     {
 *       name: 'notify status',
 *       summary: 'deliveries by channel and status',
 *       async run({ app, stdout }) {
 *         stdout(JSON.stringify(await app.resolve(DELIVERIES).counts()))
 *         return 0
 *       },
 *     },
 *   ],
 * })
 * ```
 */
export interface CliCommand {
  /** The words that name it after `mortar`, lower case, space-separated (`'notify status'`). */
  readonly name: string
  /** One line for `mortar help`. */
  readonly summary: string
  /** Optional usage shown by `mortar help` (`'<id|all>'`). */
  readonly usage?: string
  /** Runs the command; resolves to the exit code (0 by default, 2 for wrong usage). */
  run(context: CliContext): Promise<number | undefined> | number | undefined
}
