// Opens the listen page in Debian's Chromium at a phone's size, plays the first episode
// and waits until the <audio> element has played past --seconds. With --p2p the page is
// opened with ?webseed=0 and every byte must have come from peers over WebRTC. With --live it
// plays the live stream; --no-mse takes Media Source Extensions and native HLS away from the
// page first (Chromium's own HLS player, which answers "maybe", is not what an old iPhone
// runs), so it must fall back to the Ogg stream.
// --episodes is the number of episodes listed, or `any`. Saves a screenshot to --shot.

import { args, check, checkEq, fail, log, overallTimeout } from './lib.mjs'
import { phone } from './phone.mjs'

const opts = args({
  base: { type: 'string' },
  shot: { type: 'string' },
  episodes: { type: 'string' },
  title: { type: 'string' },
  seconds: { type: 'string', default: '5' },
  p2p: { type: 'boolean', default: false },
  live: { type: 'boolean', default: false },
  'no-mse': { type: 'boolean', default: false }
})
check(opts.base && opts.shot && opts.episodes && opts.title, 'need --base --shot --episodes --title')
overallTimeout(120, 'listen page')

const { context, close } = await phone({ autoplay: true })
try {
  if (opts['no-mse']) {
    await context.addInitScript(() => {
      delete window.MediaSource
      delete window.ManagedMediaSource
      const canPlayType = HTMLMediaElement.prototype.canPlayType
      HTMLMediaElement.prototype.canPlayType = function (type) {
        return /mpegurl/i.test(type) ? '' : canPlayType.call(this, type)
      }
    })
  }
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', e => errors.push(e.message))
  page.on('console', m => log('console:', m.type(), m.text()))
  await page.goto(`${opts.base}/${opts.p2p ? '?webseed=0' : ''}`)
  const items = await page.locator('li.episode').count()
  // `any`: a library that grows while the test runs (recordings).
  if (opts.episodes !== 'any') checkEq(items, Number(opts.episodes), 'episodes listed')
  const button = opts.live
    ? page.getByRole('button', { name: 'Listen live' })
    // The oldest of that title (the list is newest first): recordings split every few
    // seconds share a minute's title.
    : page.getByRole('button', { name: `Play ${opts.title}` }).last()
  // Big enough to hit with a thumb (48 CSS px).
  const box = await button.boundingBox()
  check(box && box.height >= 44 && box.width >= 44, `play button too small: ${JSON.stringify(box)}`)
  await button.tap()
  const want = Number(opts.seconds)
  const deadline = Date.now() + 90_000
  let t = 0
  while (Date.now() < deadline) {
    t = await page.evaluate(() => document.getElementById('audio').currentTime)
    if (t > want) break
    await page.waitForTimeout(250)
  }
  const status = await page.locator('#status').textContent()
  log(`currentTime ${t}, status: ${status}`)
  if (t <= want) fail(`audio stuck at ${t} s (status: ${status}; page errors: ${errors.join(' | ')})`)
  if (opts.live && opts['no-mse']) {
    const live = await page.evaluate(() => ({
      src: document.getElementById('audio').currentSrc,
      nativeHls: document.getElementById('audio').canPlayType('application/vnd.apple.mpegurl') !== '',
      mse: 'MediaSource' in window
    }))
    log('without MSE:', JSON.stringify(live))
    check(!live.mse && !live.nativeHls, 'MediaSource or native HLS is still there')
    check(live.src.endsWith('/live.ogg'), `without MSE the page should play /live.ogg, played ${live.src}`)
  } else if (opts.live) {
    // Chromium has Media Source Extensions: hls.js plays the Opus HLS variant.
    const live = await page.evaluate(() => ({
      src: document.getElementById('audio').currentSrc,
      variant: window.streamp2p && window.streamp2p.live && window.streamp2p.live.variant
    }))
    check(live.src.startsWith('blob:') && live.variant === 'opus', `Chromium should play the Opus HLS variant with hls.js, played ${JSON.stringify(live)}`)
  }
  if (opts.p2p) {
    const wires = await page.evaluate(() => {
      const tor = window.streamp2p && window.streamp2p.client.torrents[0]
      if (!tor) return null
      return { types: tor.wires.map(w => w.type), urls: tor.urlList, received: tor.received }
    })
    log('wires', JSON.stringify(wires))
    check(wires, 'the page did not start WebTorrent (no service worker?)')
    checkEq(wires.urls, [], 'web seeds with ?webseed=0')
    check(wires.types.length > 0 && wires.types.every(x => x === 'webrtc'), `not all WebRTC: ${wires.types}`)
    check(wires.received > 0, 'no bytes received over WebRTC')
  }
  await page.screenshot({ path: opts.shot, fullPage: false })
  check(errors.length === 0, `page errors: ${errors.join(' | ')}`)
  log('ok')
} finally {
  await close()
}
