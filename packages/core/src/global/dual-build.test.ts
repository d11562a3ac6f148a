import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { copyFile, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BuiltPackages, buildPackages, REPOSITORY_ROOT } from './built-packages.js'

const run = promisify(execFile)
// Every package that builds: a new one is held to the same rules from its first build.
const PACKAGES = readdirSync(join(REPOSITORY_ROOT, 'packages')).filter((name) =>
  existsSync(join(REPOSITORY_ROOT, 'packages', name, 'tsup.config.ts')),
)

describe('the ESM and CJS builds loaded in one process', () => {
  let built: BuiltPackages
  let report: {
    entries: string[]
    loadErrors: string[]
    differentSymbols: string[]
    checks: Record<string, unknown>
  }

  beforeAll(async () => {
    built = await buildPackages(PACKAGES)
    const script = join(built.dir, 'dual-build.fixture.mjs')
    await copyFile(join(import.meta.dirname, 'dual-build.fixture.mjs'), script)
    const { stdout } = await run(process.execPath, [script, ...PACKAGES], { cwd: built.dir })
    report = JSON.parse(stdout)
  }, 240_000)

  afterAll(async () => {
    await built?.dispose()
  })

  it('load every entry point by import and by require, with vitest and fast-check absent', () => {
    expect(report.entries).toEqual(
      expect.arrayContaining(['@mortar/core', '@mortar/auth/testing', '@mortar/session/testing']),
    )
    expect(report.loadErrors).toEqual([])
  })

  it('export the same symbol for every token', () => {
    expect(report.differentSymbols).toEqual([])
  })

  it('run an ESM app on modules from the CJS builds: tokens, hooks, stores and errors are shared', () => {
    expect(report.checks).toEqual({
      mixedAppStarts: true,
      tokensResolveAcrossBuilds: true,
      secretFromOtherBuildStaysHidden: true,
      afterCommitJoinsTransactionOfOtherBuild: true,
      requestThroughAdapterOfOtherBuild: {
        hookHeader: 'ran',
        sameContext: true,
        sessionLoaded: true,
        errorStatus: 404,
        errorCode: 'E_NOT_FOUND',
      },
    })
  })
})

// What no module may hold at its top level without processGlobal (or globalToken): each build
// would get its own. Per-build caches and markers that never cross builds are listed with why.
const MODULE_STATE =
  /^(?:export )?(?:const|let) (\w+)(?::[^=]+)? = (?:new (?:WeakMap|WeakSet|AsyncLocalStorage)\b|Symbol\(|token<)/
const PER_BUILD: Readonly<Record<string, string>> = {
  'core/src/di/registration.ts:dependencyCache':
    'a cache of registrations, made and read by the same build',
  'auth/src/policy/compile-condition.ts:factories':
    'a cache of compiled SQL, made and read by the same build',
  'auth/src/policy/compile-condition.ts:constants':
    'marks factories while they are built, in the same call',
  'auth/src/policy/principal-ref.ts:paths':
    'references made by definePolicy and compiled by its build(), in the same build',
  'core/src/http/shared/adapter-conformance.ts:SCOPED':
    "a token of the adapters' shared test cases",
  'core/src/jobs/sql/sql-queue.ts:NOW': "slots of a claim compiled and filled by one queue's build",
  'core/src/jobs/sql/sql-queue.ts:WORKER':
    "slots of a claim compiled and filled by one queue's build",
  'core/src/jobs/sql/sql-queue.ts:LIMIT':
    "slots of a claim compiled and filled by one queue's build",
  'core/src/jobs/sql/sql-queue.ts:LEASE':
    "slots of a claim compiled and filled by one queue's build",
  'analytics/src/storage/batch-limits.ts:WITHIN_LIMITS':
    "batches the tracker checked, for the sink of its build; another build's sink checks them again",
  'notify/src/ledger/delivery-insert.ts:texts':
    "compiled INSERT texts per Kysely; another build's ledger compiles its own",
  'notify/src/ledger/delivery-insert.ts:keyedTexts':
    "compiled keyed INSERT texts per Kysely; another build's ledger compiles its own",
  'notify/src/channels/inbox/inbox-handler.ts:hubs':
    "one polling hub per inbox for the handlers of one build; another build's handlers poll their own",
}

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const files = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) return sources(path)
      return /\.ts$/.test(entry.name) && !/\.test(-d)?\.ts$/.test(entry.name) ? [path] : []
    }),
  )
  return files.flat()
}

describe('module-level state', () => {
  it('is process-wide in every package, except the per-build caches listed here', async () => {
    const packages = join(REPOSITORY_ROOT, 'packages')
    const found: string[] = []
    for (const file of await sources(packages)) {
      const lines = (await readFile(file, 'utf8')).split('\n')
      for (const line of lines) {
        const name = MODULE_STATE.exec(line)?.[1]
        if (name === undefined) continue
        const id = `${file.slice(packages.length + 1)}:${name}`
        if (!(id in PER_BUILD)) found.push(id)
      }
    }
    expect(found).toEqual([])
  })
})
