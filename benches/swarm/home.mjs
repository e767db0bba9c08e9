// One home of the swarm lab (benches/swarm/lab.py): a Debian Chromium in the home's network
// namespace, with a browser context per listener (each its own WebRTC peer), on the listen
// page's live player, each joining and leaving when the plan says.
//   node home.mjs --base=URL --plan='[{"join":0,"leave":90,"upload":true},...]' --seconds=S
// Prints one line `result [...]`: per listener, its plan, seconds played, stalls (the audio
// element's `waiting` once it played) and their seconds, the bytes its page load took, samples
// of seconds behind the live edge, a 5 s trace of where its segments came from and its role,
// and the page's own counts (window.streamp2p.live: segments and bytes by source, bytes
// uploaded, whether it seeded, playlists asked of the station and written by itself).

import { chromium } from 'playwright-core'
import { CHROMIUM_FLAGS, log, sleep } from '../../tests/js/lib.mjs'
import { homeArgs } from './home-args.mjs'

const { base, plan, seconds } = homeArgs('swarm lab home')

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    ...CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required', '--disable-renderer-backgrounding',
    '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows'
  ]
})

// What a listener's page says of itself now.
function sample (page) {
  return page.evaluate(() => {
    const audio = document.getElementById('audio')
    return { t: audio.currentTime, lab: window.lab, live: window.streamp2p && window.streamp2p.live }
  })
}

async function listen (item, i, t0) {
  const wait = t0 + item.join * 1000 - Date.now()
  if (wait > 0) await sleep(wait)
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  const page = await context.newPage()
  page.on('pageerror', e => log(`listener ${i}: ${e.message}`))
  // LIGHT_DEBUG: p2p-media-loader's own account of each segment (its `debug` logs), with the
  // seconds into the run, in the home's log.
  if (process.env.LIGHT_DEBUG) {
    await page.addInitScript(() => { localStorage.debug = 'p2pml-core:hybrid-loader*,p2pml-core:request*' })
    page.on('console', m => log(`listener ${i} +${((Date.now() - t0) / 1000).toFixed(1)}s: ${m.text().replace(/%c/g, '')}`))
  }
  const r = { ...item, played: 0, stalls: 0, stallSecs: 0, behind: [], trace: [], live: null, error: null, pageBytes: 0 }
  // What loading the page cost (the page, its scripts, icons): once per new listener, not
  // part of what listening costs by the second. Live playlists and segments are left out.
  page.on('requestfinished', async req => {
    if (/\/live\//.test(new URL(req.url()).pathname)) return
    try {
      const s = await req.sizes()
      r.pageBytes += s.responseBodySize + s.responseHeadersSize
      // When its last part arrived (s since the epoch): the lab counts a page load in its
      // window by this, not by when the listener meant to join.
      r.pageAt = Date.now() / 1000
    } catch {}
  })
  try {
    await page.goto(`${base}/${item.upload ? '' : '?upload=0'}`, { timeout: 60000 })
    await page.getByRole('button', { name: 'Listen live' }).tap({ timeout: 30000 })
    // Stalls count once the audio has started: each `waiting`, and how long until it plays.
    await page.evaluate(() => {
      const audio = document.getElementById('audio')
      window.lab = { stalls: 0, stallMs: 0, since: null, started: null }
      audio.addEventListener('playing', () => {
        if (window.lab.started === null) window.lab.started = audio.currentTime
        if (window.lab.since !== null) window.lab.stallMs += performance.now() - window.lab.since
        window.lab.since = null
      })
      audio.addEventListener('waiting', () => {
        if (window.lab.started === null || window.lab.since !== null) return
        window.lab.stalls += 1
        window.lab.since = performance.now()
      })
    })
    const end = item.leave === null ? t0 + seconds * 1000 : t0 + item.leave * 1000
    let last = null
    while (Date.now() < end) {
      await sleep(Math.min(5000, Math.max(0, end - Date.now())))
      last = await sample(page)
      if (last.live && typeof last.live.behind === 'number') r.behind.push(Math.round(last.live.behind * 10) / 10)
      // Every 5 s, when the station's bytes went where (the lab's timeline of a run): seconds
      // into the run, segments from the station and from peers so far, peers now, its role
      // (2 seeds, 1 stands in, 0 neither) and rejoins so far.
      const l = last.live
      if (l) r.trace.push([Math.round((Date.now() - t0) / 100) / 10, l.segments.http, l.segments.p2p, l.peers, l.seeds ? 2 : l.standsIn ? 1 : 0, l.rejoined])
    }
    last = await sample(page)
    r.played = last.lab && last.lab.started !== null ? last.t - last.lab.started : 0
    r.stalls = last.lab ? last.lab.stalls : 0
    r.stallSecs = last.lab ? Math.round(last.lab.stallMs / 100) / 10 : 0
    r.live = last.live
  } catch (e) {
    r.error = String(e.message || e).slice(0, 300)
    log(`listener ${i}: ${r.error}`)
  }
  await context.close()
  return r
}

try {
  const t0 = Date.now()
  const results = await Promise.all(plan.map((item, i) => listen(item, i, t0)))
  console.log(`result ${JSON.stringify(results)}`)
} finally {
  await browser.close()
}
