// Opens the listen page in Debian's Chromium as a phone and checks it as an installable app
// and as a first visit's download:
// - Chromium's own view (DevTools protocol): the manifest it found through <link
//   rel=manifest> parses with no errors, and the installability errors are exactly
//   --installability (comma-separated; empty for none);
// - the manifest fetched through the link has the station's name and language, and each
//   icon it lists loads as an image of the size it states;
// - every script and style the page loaded came from a content-hashed /assets/ URL, in the
//   --encoding Chromium asked for (gzip on plain http: it offers brotli only over https),
//   and no error reached the console.
// Prints "bytes <transferred> <decoded>" for the first visit and "ok".

import { args, check, checkEq, fail, log, overallTimeout } from './lib.mjs'
import { phone } from './phone.mjs'

const opts = args({
  base: { type: 'string' },
  name: { type: 'string' },
  lang: { type: 'string' },
  installability: { type: 'string', default: '' },
  encoding: { type: 'string' }
})
check(opts.base && opts.name && opts.lang && opts.encoding, 'need --base --name --lang --encoding')
overallTimeout(90, 'app manifest')

const { context, close } = await phone()
try {
  const page = await context.newPage()
  const problems = []
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
  const assets = []
  page.on('response', r => {
    const url = new URL(r.url())
    if (/\.(m?js|css)$/.test(url.pathname)) {
      assets.push({ path: url.pathname, encoding: r.headers()['content-encoding'], asked: r.request().headers()['accept-encoding'] })
    }
  })
  await page.goto(`${opts.base}/`, { waitUntil: 'networkidle' })

  const cdp = await context.newCDPSession(page)
  const app = await cdp.send('Page.getAppManifest')
  checkEq(app.errors, [], 'manifest errors in Chromium')
  check(app.url.endsWith('/manifest.webmanifest'), `manifest at ${app.url}`)
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
  const said = installabilityErrors.map(e => e.errorId).sort()
  const want = opts.installability ? opts.installability.split(',').sort() : []
  checkEq(said, want, 'installability errors')

  const manifest = await page.evaluate(async () => {
    const href = document.querySelector('link[rel=manifest]').href
    return (await fetch(href)).json()
  })
  checkEq(manifest.name, opts.name, 'manifest name')
  checkEq(manifest.lang, opts.lang, 'manifest lang')
  checkEq(manifest.display, 'standalone', 'manifest display')
  checkEq(manifest.start_url, '/', 'manifest start_url')
  check(manifest.icons.some(i => i.purpose === 'maskable'), 'a maskable icon')
  const touch = await page.evaluate(() => document.querySelector('link[rel=apple-touch-icon]').href)
  for (const { src, sizes } of [...manifest.icons, { src: touch, sizes: '180x180' }]) {
    const got = await page.evaluate(async (src) => {
      const img = new Image()
      img.src = src
      await img.decode()
      return `${img.naturalWidth}x${img.naturalHeight}`
    }, src)
    checkEq(got, sizes, `size of ${src}`)
  }
  const theme = await page.evaluate(() => document.querySelector('meta[name=theme-color]').content)
  checkEq(theme, manifest.theme_color, 'theme colour of page and manifest')

  check(assets.length >= 3, `scripts and styles loaded: ${JSON.stringify(assets)}`)
  for (const a of assets) {
    check(/^\/assets\/[\w.-]+\.[0-9a-f]{8}\.(m?js|css)$/.test(a.path), `not a hashed URL: ${a.path}`)
    checkEq(a.encoding, opts.encoding, `encoding of ${a.path} (asked for ${a.asked})`)
  }
  const [sent, decoded] = await page.evaluate(() => {
    const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    return [all.reduce((n, e) => n + e.transferSize, 0), all.reduce((n, e) => n + e.decodedBodySize, 0)]
  })
  check(problems.length === 0, problems.join('\n'))
  log(`bytes ${sent} ${decoded}`)
  console.log('ok')
} catch (e) {
  fail(e.stack || String(e))
} finally {
  await close()
}
