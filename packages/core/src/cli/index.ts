export type { CliCommand, CliContext } from './cli-command.js'
export { runCli } from './run-cli.js'
export type { CliIo } from './run-cli.js'
