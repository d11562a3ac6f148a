#!/usr/bin/env node
import { runCli } from './run-cli.js'

// The `mortar` bin: migrations, workers, job operations and the commands of the app's modules.
runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
}).then((code) => {
  process.exitCode = code
})
