// The listen page over https in Debian's Chromium: a secure context, so the page plays the
// episode through WebTorrent's service worker. The test CA's certificates are trusted by
// the key of pebble's intermediate (--spki, base64 SHA-256 of its SubjectPublicKeyInfo);
// --map sends the public name to the node's address.
// Checks: window.isSecureContext, the <audio> past --seconds, the service worker in control
// of the page and WebTorrent holding the episode's torrent.

import { args, check, fail, log, overallTimeout } from './lib.mjs'
import { phone } from './phone.mjs'

const opts = args({
  base: { type: 'string' },
  title: { type: 'string' },
  spki: { type: 'string' },
  map: { type: 'string' },
  seconds: { type: 'string', default: '3' }
})
check(opts.base && opts.title && opts.spki && opts.map, 'need --base --title --spki --map')
overallTimeout(100, 'https listen page')

const { context, close } = await phone({
  autoplay: true,
  flags: [`--ignore-certificate-errors-spki-list=${opts.spki}`, `--host-resolver-rules=${opts.map}`]
})
try {
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', e => errors.push(e.message))
  page.on('console', m => log('console:', m.type(), m.text()))
  await page.goto(`${opts.base}/`)
  check(await page.evaluate(() => window.isSecureContext), 'the page over https is not a secure context')
  await page.getByRole('button', { name: `Play ${opts.title}` }).tap()
  const want = Number(opts.seconds)
  const deadline = Date.now() + 60_000
  let t = 0
  while (Date.now() < deadline) {
    t = await page.evaluate(() => document.getElementById('audio').currentTime)
    if (t > want) break
    await page.waitForTimeout(250)
  }
  const state = await page.evaluate(() => ({
    controller: navigator.serviceWorker.controller !== null,
    src: document.getElementById('audio').currentSrc,
    torrents: window.streamp2p && window.streamp2p.client ? window.streamp2p.client.torrents.length : 0
  }))
  log(`currentTime ${t}, ${JSON.stringify(state)}`)
  if (t <= want) fail(`audio stuck at ${t} s (page errors: ${errors.join(' | ')})`)
  check(state.controller, 'no service worker controls the page')
  check(state.torrents > 0, 'WebTorrent did not take the episode')
  check(errors.length === 0, `page errors: ${errors.join(' | ')}`)
  log('ok')
} finally {
  await close()
}
