// What a live listener's page load costs the station: the listen page opened in Debian's
// Chromium at 390x844, every response (body and headers) counted but the live playlists and
// segments, on load and once "Listen live" has played 8 s. Then the same listener comes
// back (a new page in the same browser profile, its HTTP cache kept) and is counted again.
//   node benches/swarm/page-weight.mjs http://NODE:PORT
import { chromium } from 'playwright-core'

const base = process.argv[2]
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--autoplay-policy=no-user-gesture-required'] })
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })

async function visit (who) {
  const page = await context.newPage()
  const got = []
  page.on('requestfinished', async req => {
    const path = new URL(req.url()).pathname
    if (path.startsWith('/live/')) return
    try {
      // What the page's service worker answered never crossed the network; what the
      // browser's HTTP cache answered counts 0 bytes in sizes().
      const r = await req.response()
      if (r && r.fromServiceWorker()) return
      const s = await req.sizes()
      got.push([path, r && r.status(), s.responseBodySize + s.responseHeadersSize])
    } catch {}
  })
  const total = () => got.reduce((a, [, , n]) => a + n, 0)
  await page.goto(`${base}/`)
  await page.waitForTimeout(3000)
  console.log(`${who}, on load: ${total()} bytes ${JSON.stringify(got)}`)
  const before = got.length
  await page.getByRole('button', { name: 'Listen live' }).tap()
  await page.waitForTimeout(8000)
  console.log(`${who}, listening: ${total()} bytes, more: ${JSON.stringify(got.slice(before))}`)
  await page.close()
}

await visit('first visit')
await visit('coming back')
await browser.close()
