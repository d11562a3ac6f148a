import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { describe, expect, it } from 'vitest'

const child = new URL('./stop-on-signals.child.ts', import.meta.url).pathname
const register = new URL('../../../scripts/run-ts/register.mjs', import.meta.url).pathname

describe('stopOnSignals', () => {
  it('writes every buffered event however many signals arrive during the shutdown', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'shop-signals-'))
    const file = join(folder, 'shop.db')
    try {
      const shop = spawn(process.execPath, ['--import', register, child, `sqlite:${file}`], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: 'info' },
      })
      let stdout = ''
      let stderr = ''
      const waiters: { text: string; count: number; resolve: () => void }[] = []
      const seen = (text: string) => stdout.split(text).length - 1
      shop.stdout.on('data', (chunk) => {
        stdout += chunk
        for (const waiter of waiters) if (seen(waiter.text) >= waiter.count) waiter.resolve()
      })
      shop.stderr.on('data', (chunk) => {
        stderr += chunk
      })
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve) => shop.once('exit', (code, signal) => resolve({ code, signal })),
      )
      // Resolves once `text` was printed `count` times, or the process ended.
      const printed = (text: string, count = 1) =>
        Promise.race([
          exited,
          new Promise<void>((resolve) => {
            if (seen(text) >= count) resolve()
            else waiters.push({ text, count, resolve })
          }),
        ])
      await printed('ready\n')
      shop.kill('SIGINT')
      await printed('stopping\n')
      // Ctrl-C again, and the rest: each is handled (and said) before the shutdown goes on.
      const again = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGINT'] as const
      for (const [i, signal] of again.entries()) {
        shop.kill(signal)
        await printed('already stopping', i + 1)
      }
      shop.stdin.end('go\n')
      expect(await exited, stderr).toEqual({ code: 0, signal: null })
      const database = new DatabaseSync(file)
      try {
        const row = database
          .prepare(`select count(*) as n from mortar_analytics_event where name = 'product_viewed'`)
          .get() as { n: number }
        expect(row.n).toBe(500)
      } finally {
        database.close()
      }
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  }, 120_000)
})
