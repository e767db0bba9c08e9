// One listener of the live stream: opens the listen page in headless Chromium at a phone's
// size, taps "Listen live" and lets it play for --seconds. Meant to run inside a listener's
// own network namespace (several of these at once, one per "home"), so each is its own
// browser behind its own router. Prints one line `result {...}`: seconds played, the page's
// segment counts by source and peers (window.streamp2p.live, p2p-media-loader's events),
// the ICE servers the page gave its peer connections, and for each connected peer
// connection the addresses and types of its selected candidate pair (getStats).

import { chromium } from 'playwright-core'
import { args, check, fail, log, overallTimeout, sleep } from './lib.mjs'

const opts = args({
  base: { type: 'string' },
  seconds: { type: 'string', default: '40' },
  profile: { type: 'string' }
})
check(opts.base && opts.profile, 'need --base --profile')
const seconds = Number(opts.seconds)
overallTimeout(seconds + 90, 'live listener')

// Keeps every RTCPeerConnection the page makes, to read its configuration and stats.
const keepPeerConnections = () => {
  const Native = window.RTCPeerConnection
  window.__pcs = []
  window.RTCPeerConnection = function (...a) {
    const pc = new Native(...a)
    window.__pcs.push(pc)
    return pc
  }
  window.RTCPeerConnection.prototype = Native.prototype
  Object.setPrototypeOf(window.RTCPeerConnection, Native)
}

const context = await chromium.launchPersistentContext(opts.profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 3,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'
  ]
})
try {
  const errors = []
  const page = await context.newPage()
  await page.addInitScript(keepPeerConnections)
  page.on('pageerror', e => errors.push(e.message))
  page.on('console', m => { if (m.type() === 'error') log('console:', m.text()) })
  await page.goto(`${opts.base}/`)
  const ice = await page.evaluate(() => JSON.parse(document.getElementById('config').textContent).ice)
  log('ice servers on the page:', JSON.stringify(ice))
  await page.getByRole('button', { name: 'Listen live' }).tap()
  const started = Date.now()
  await sleep(3000)
  const first = await page.evaluate(() => document.getElementById('audio').currentTime)
  while (Date.now() - started < seconds * 1000) {
    await sleep(5000)
    log(await page.evaluate(() => {
      const s = window.streamp2p && window.streamp2p.live
      return `${document.getElementById('audio').currentTime.toFixed(1)}s ${s ? JSON.stringify({ segments: s.segments, peers: s.peers }) : '-'}`
    }))
  }
  const r = await page.evaluate(async () => {
    const pairs = []
    for (const pc of window.__pcs) {
      if (pc.connectionState !== 'connected') continue
      const stats = await pc.getStats()
      let selected = null
      stats.forEach(s => {
        if (s.type === 'transport' && s.selectedCandidatePairId) selected = stats.get(s.selectedCandidatePairId)
      })
      if (!selected) continue
      const side = id => {
        const c = stats.get(id)
        return c && { type: c.candidateType, address: c.address, port: c.port }
      }
      pairs.push({ local: side(selected.localCandidateId), remote: side(selected.remoteCandidateId) })
    }
    return {
      currentTime: document.getElementById('audio').currentTime,
      status: document.getElementById('status').textContent,
      live: window.streamp2p && window.streamp2p.live,
      peerConnections: window.__pcs.length,
      iceServers: window.__pcs.map(pc => pc.getConfiguration().iceServers),
      pairs
    }
  })
  log('listener:', JSON.stringify(r))
  const played = r.currentTime - first
  if (played < seconds / 2) fail(`did not play: ${played.toFixed(1)} s (status: ${r.status})`)
  check(r.live, 'the page did not use hls.js')
  check(errors.length === 0, `page errors: ${errors.join(' | ')}`)
  console.log(`result ${JSON.stringify({ played, ice, ...r.live, peerConnections: r.peerConnections, iceServers: r.iceServers, pairs: r.pairs })}`)
  log('ok')
} finally {
  await context.close()
}
