import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'

/** Options of {@link launchTestBrowser}. */
export interface LaunchTestBrowserOptions {
  /** The Chromium binary; Debian's `chromium` package by default. */
  readonly executablePath?: string
}

/** A headless Chromium for one test file, on a profile of its own. */
export interface TestBrowser {
  /** The browser, for more isolated contexts (`browser.newContext()`: a second visitor). */
  readonly browser: Browser
  /** The default context, on the fresh user-data-dir. */
  readonly context: BrowserContext
  /** The profile directory made for this launch; deleted by {@link TestBrowser.close}. */
  readonly userDataDir: string
  /** A new page in {@link TestBrowser.context}. */
  newPage(): Promise<Page>
  /** Closes Chromium and deletes its user-data-dir. Idempotent. */
  close(): Promise<void>
}

const DEFAULT_EXECUTABLE = '/usr/bin/chromium'

// What CI machines and containers need: no sandbox (root, no user namespaces), no GPU, and
// nothing that reaches the network or the profile on its own while a test runs.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
]

/**
 * Launches Debian's Chromium, headless, through `playwright-core` (an optional peer of
 * `@mortar/core`: `npm i -D playwright-core`), on a fresh user-data-dir that {@link
 * TestBrowser.close} deletes. Pages served by Mortar (a dashboard, a storefront) are tested
 * in it for real. Fails with a message saying how to install Chromium when the binary is
 * missing.
 *
 * @example
 * ```ts
 * import { launchTestBrowser } from '@mortar/core/testing'
 * import { afterAll, beforeAll, expect, it } from 'vitest'
 *
 * let browser: Awaited<ReturnType<typeof launchTestBrowser>>
 * beforeAll(async () => { browser = await launchTestBrowser() })
 * afterAll(() => browser.close())
 *
 * it('shows the heading', async () => {
 *   const page = await browser.newPage()
 *   await page.goto('http://127.0.0.1:3000/')
 *   expect(await page.textContent('h1')).toBe('Shop')
 * })
 * ```
 */
export async function launchTestBrowser(
  options: LaunchTestBrowserOptions = {},
): Promise<TestBrowser> {
  const executablePath = options.executablePath ?? DEFAULT_EXECUTABLE
  if (!existsSync(executablePath)) {
    throw new Error(
      `launchTestBrowser: no Chromium at ${executablePath}. Install Debian's chromium (as root: apt-get update && apt-get install -y chromium), or pass executablePath.`,
    )
  }
  let chromium: typeof import('playwright-core').chromium
  try {
    ;({ chromium } = await import('playwright-core'))
  } catch (error) {
    throw new Error(
      'launchTestBrowser needs playwright-core, an optional peer of @mortar/core: npm i -D playwright-core',
      { cause: error },
    )
  }
  // Playwright refuses --user-data-dir in args: a persistent context is how it takes a profile.
  const userDataDir = mkdtempSync(join(tmpdir(), 'mortar-chromium-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: FLAGS,
    })
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true })
    throw error
  }
  const browser = context.browser() as Browser
  let closing: Promise<void> | undefined
  return {
    browser,
    context,
    userDataDir,
    newPage: () => context.newPage(),
    close() {
      closing ??= (async () => {
        try {
          await context.close()
          await browser.close()
        } finally {
          rmSync(userDataDir, { recursive: true, force: true })
        }
      })()
      return closing
    },
  }
}
