import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { launchTestBrowser } from './launch-test-browser.js'

describe('launchTestBrowser', () => {
  it('loads a page from a local server and deletes its profile on close', async () => {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html')
      res.end('<h1>Mortar</h1><script>document.title = String(6 * 7)</script>')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const browser = await launchTestBrowser()
    try {
      const page = await browser.newPage()
      await page.goto(`http://127.0.0.1:${port}/`)
      expect(await page.textContent('h1')).toBe('Mortar')
      expect(await page.title()).toBe('42')
      expect(existsSync(browser.userDataDir)).toBe(true)
    } finally {
      await browser.close()
      await browser.close()
      server.close()
    }
    expect(existsSync(browser.userDataDir)).toBe(false)
  })

  it('says how to install Chromium when the binary is missing', async () => {
    const missing = '/nonexistent/chromium'
    expect(existsSync(missing)).toBe(false)
    await expect(launchTestBrowser({ executablePath: missing })).rejects.toThrow(
      /apt-get install -y chromium/,
    )
  })
})
