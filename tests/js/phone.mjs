// Debian's Chromium (never a downloaded browser) as a phone: 390x844, touch, 3x pixels, in
// a fresh profile, with the flags that keep it quiet on a closed network.

import { chromium } from 'playwright-core'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHROMIUM_FLAGS } from './lib.mjs'

/** Returns the browser context and a `close` that also removes the profile. `flags` are
 * more Chromium flags (e.g. a test certificate's key to trust). */
export async function phone ({ autoplay = false, flags = [] } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'streamp2p-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      ...CHROMIUM_FLAGS,
      ...(autoplay ? ['--autoplay-policy=no-user-gesture-required'] : []),
      ...flags
    ],
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 3
  })
  const close = async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
  return { context, close }
}
