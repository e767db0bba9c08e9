// Page load to first audio, for benches/tls_bench.py: opens --base in a fresh Debian
// Chromium profile (a first visit: nothing cached, no service worker yet), taps
// "Play --title" as soon as it shows, and reports the milliseconds from navigation to the
// page's first `playing` event and to audio past 0.5 s. Over https the certificate is
// trusted by its key (--spki) and --map sends the name to the node.
// Prints one JSON line: {"runs": [{"playing_ms": .., "half_second_ms": .., "secure": ..}]}

import { args, check, log, overallTimeout } from '../tests/js/lib.mjs'
import { phone } from '../tests/js/phone.mjs'

const opts = args({
  base: { type: 'string' },
  title: { type: 'string' },
  spki: { type: 'string', default: '' },
  map: { type: 'string', default: '' },
  runs: { type: 'string', default: '5' }
})
check(opts.base && opts.title, 'need --base --title')
overallTimeout(600, 'page load to first audio')

const flags = []
if (opts.spki) flags.push(`--ignore-certificate-errors-spki-list=${opts.spki}`)
if (opts.map) flags.push(`--host-resolver-rules=${opts.map}`)
const runs = []
for (let i = 0; i < Number(opts.runs); i++) {
  const { context, close } = await phone({ autoplay: true, flags })
  try {
    const page = await context.newPage()
    await page.addInitScript(() => {
      document.addEventListener('playing', () => {
        window.__playing = window.__playing || performance.now()
      }, true)
    })
    await page.goto(`${opts.base}/`, { waitUntil: 'commit' })
    await page.getByRole('button', { name: `Play ${opts.title}` }).tap()
    await page.waitForFunction(() => document.getElementById('audio').currentTime > 0.5,
      null, { timeout: 60_000, polling: 20 })
    const r = await page.evaluate(() => ({
      playing_ms: Math.round(window.__playing),
      half_second_ms: Math.round(performance.now()),
      secure: window.isSecureContext,
      via_worker: navigator.serviceWorker ? navigator.serviceWorker.controller !== null : false
    }))
    log(JSON.stringify(r))
    runs.push(r)
  } finally {
    await close()
  }
}
console.log(JSON.stringify({ runs }))
