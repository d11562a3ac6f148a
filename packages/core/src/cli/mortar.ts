#!/usr/bin/env node
import { runCli } from './run-cli.js'

// The `mortar` bin: `mortar migrate up|down|status --app ./dist/app.js`.
runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
}).then((code) => {
  process.exitCode = code
})
