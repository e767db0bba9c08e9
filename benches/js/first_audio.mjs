// Time from page open to first audio: headless Chromium (flags of tests/js/listen_page.mjs)
// opens BASE/?webseed=0, taps the first episode's play button and polls the <audio> element
// every 10 ms until currentTime > 0. Prints one JSON line with the phases in ms.
import { chromium } from 'playwright-core'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({ options: { base: { type: 'string' }, title: { type: 'string' } } })
const profile = mkdtempSync(join(tmpdir(), 'streamp2p-bench-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3
})
const r = {}
try {
  const page = await context.newPage()
  const t0 = performance.now()
  await page.goto(`${opt.base}/?webseed=0`)
  r.loaded_ms = performance.now() - t0
  const button = page.getByRole('button', { name: `Play ${opt.title}` })
  await button.waitFor({ timeout: 20000 })
  r.button_ms = performance.now() - t0
  await button.tap()
  r.tapped_ms = performance.now() - t0
  const deadline = Date.now() + 30000
  let ct = 0
  while (Date.now() < deadline) {
    ct = await page.evaluate(() => document.getElementById('audio').currentTime)
    if (ct > 0) break
    await page.waitForTimeout(10)
  }
  r.first_audio_ms = performance.now() - t0
  r.current_time = ct
  r.wires = await page.evaluate(() => {
    const tor = window.streamp2p && window.streamp2p.client.torrents[0]
    return tor ? { types: tor.wires.map(w => w.type), urls: tor.urlList, received: tor.received } : null
  })
  r.ok = ct > 0
} catch (e) { r.error = String(e) } finally {
  await context.close()
  rmSync(profile, { recursive: true, force: true })
}
console.log(JSON.stringify(r))
process.exit(r.ok ? 0 : 1)
