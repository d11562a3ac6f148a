// Loads the ESM and the CJS build of every Mortar package into this one process, as an ESM app
// with a CommonJS plugin or test runner does, and prints what it found as JSON for
// dual-build.test.ts. vitest and fast-check are hidden: testing entries must load without them.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire, registerHooks } from 'node:module'

const HIDDEN = ['vitest', 'fast-check']
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (HIDDEN.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
      const error = new Error(`Cannot find package '${specifier}' (hidden by the dual-build check)`)
      throw Object.assign(error, { code: 'ERR_MODULE_NOT_FOUND' })
    }
    return nextResolve(specifier, context)
  },
})

const require = createRequire(import.meta.url)
await import('reflect-metadata')
const { z } = await import('zod')

const report = { entries: [], loadErrors: [], differentSymbols: [], checks: {} }
const builds = { esm: {}, cjs: {} }

for (const name of process.argv.slice(2)) {
  const manifest = JSON.parse(
    readFileSync(new URL(`./node_modules/@mortar/${name}/package.json`, import.meta.url), 'utf8'),
  )
  for (const subpath of Object.keys(manifest.exports)) {
    if (subpath === './package.json') continue
    const id = `@mortar/${name}${subpath.slice(1)}`
    report.entries.push(id)
    let esm
    let cjs
    try {
      esm = await import(id)
    } catch (error) {
      report.loadErrors.push(`import('${id}'): ${error.message}`)
    }
    try {
      cjs = require(id)
    } catch (error) {
      report.loadErrors.push(`require('${id}'): ${error.message}`)
    }
    builds.esm[id] = esm
    builds.cjs[id] = cjs
    if (esm === undefined || cjs === undefined) continue
    for (const [key, value] of Object.entries(esm)) {
      if (typeof value === 'symbol' && cjs[key] !== value)
        report.differentSymbols.push(`${id}: ${key}`)
    }
  }
}

const esm = {
  core: builds.esm['@mortar/core'],
  node: builds.esm['@mortar/core/node'],
  auth: builds.esm['@mortar/auth'],
}
const cjs = {
  core: builds.cjs['@mortar/core'],
  auth: builds.cjs['@mortar/auth'],
  session: builds.cjs['@mortar/session'],
}
const checks = report.checks

async function check(name, run) {
  try {
    checks[name] = await run()
  } catch (error) {
    checks[name] = `threw ${error?.code ?? error?.name}: ${error?.message}`
  }
}

// An ESM app made of modules from the CJS builds: their tokens, hooks and stores must be the app's.
let app
await check('mixedAppStarts', async () => {
  app = esm.core.createApp({
    database: 'sqlite::memory:',
    modules: [
      cjs.auth.loginThrottleModule({ store: 'memory' }),
      cjs.session.sessionModule({
        cookieName: 'probe.session',
        password: 'dual-build probe: 7f3a9c1e5b2d8046',
        schema: z.object({}),
      }),
      cjs.core.defineModule({
        name: 'probe',
        register(binder) {
          binder.bind(cjs.core.globalToken('probe.logger-user'), {
            inject: [cjs.core.LOGGER, cjs.core.CLOCK],
            useFactory: (logger, clock) => ({ logger, clock }),
          })
        },
        onStart(started) {
          cjs.core.onBeforeResponse(started, (context) => {
            context.http?.appendResponseHeader('x-probe-hook', 'ran')
          })
        },
      }),
    ],
  })
  await app.start()
  return true
})

await check('tokensResolveAcrossBuilds', () => {
  const throttle = app.resolve(esm.auth.LOGIN_THROTTLE)
  const probe = app.resolve(esm.core.globalToken('probe.logger-user'))
  return throttle instanceof cjs.auth.LoginThrottle && probe.logger === app.resolve(esm.core.LOGGER)
})

await check('secretFromOtherBuildStaysHidden', () => {
  try {
    // A check whose own message quotes the value: only a schema known as secret hides it.
    const quoting = z.string().refine((value) => value.length >= 40, {
      error: (issue) => `'${issue.input}' is too short`,
    })
    esm.core.defineConfig(z.object({ apiKey: cjs.core.secret(quoting) }), {
      env: { API_KEY: 'tiny-secret-value' },
    })
    return 'accepted a short secret'
  } catch (error) {
    return !`${error.message} ${JSON.stringify(error)}`.includes('tiny-secret-value')
  }
})

await check('afterCommitJoinsTransactionOfOtherBuild', async () => {
  let ran = false
  await esm.core.transaction(async () => {
    await cjs.core.afterCommit(() => {
      ran = true
    })
  })
  return ran
})

// The rest needs the app; without it the report above already says why.
if (checks.mixedAppStarts !== true) {
  process.stdout.write(JSON.stringify(report))
  process.exit(0)
}

const seen = {}
const server = createServer(
  esm.node.withMortar(app, async (request, response) => {
    seen.sameContext = cjs.core.requestContext() === esm.core.requestContext()
    seen.sessionLoaded = typeof cjs.session.session().csrfToken === 'function'
    if (request.url === '/missing') throw new cjs.core.NotFoundError('No such page.')
    response.end('ok')
  }),
)
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const base = `http://127.0.0.1:${server.address().port}`
await check('requestThroughAdapterOfOtherBuild', async () => {
  const ok = await fetch(`${base}/ok`)
  const missing = await fetch(`${base}/missing`)
  return {
    hookHeader: ok.headers.get('x-probe-hook'),
    sameContext: seen.sameContext,
    sessionLoaded: seen.sessionLoaded,
    errorStatus: missing.status,
    errorCode: (await missing.json()).code,
  }
})
server.close()
await app?.stop()

process.stdout.write(JSON.stringify(report))
