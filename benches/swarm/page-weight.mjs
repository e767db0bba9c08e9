// What a new live listener's page load costs the station: the listen page opened in
// Debian's Chromium at 390x844, every response (body and headers) counted but the live
// playlists and segments, on load and once "Listen live" has played 8 s.
//   node benches/swarm/page-weight.mjs http://NODE:PORT
import { chromium } from 'playwright-core'

const base = process.argv[2]
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--autoplay-policy=no-user-gesture-required'] })
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
const page = await context.newPage()
const got = []
page.on('requestfinished', async req => {
  const path = new URL(req.url()).pathname
  if (path.startsWith('/live/')) return
  try {
    const s = await req.sizes()
    got.push([path, s.responseBodySize + s.responseHeadersSize])
  } catch {}
})
const total = () => got.reduce((a, [, n]) => a + n, 0)
await page.goto(`${base}/`)
await page.waitForTimeout(3000)
console.log(`on load: ${total()} bytes ${JSON.stringify(got)}`)
const before = got.length
await page.getByRole('button', { name: 'Listen live' }).tap()
await page.waitForTimeout(8000)
console.log(`listening: ${total()} bytes, more: ${JSON.stringify(got.slice(before))}`)
await browser.close()
