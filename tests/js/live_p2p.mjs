// Opens the listen page in --listeners headless Chromium pages at a phone's size (one
// browser, a context each, so each is its own WebRTC peer), taps "Listen live" in each and
// lets them play for --seconds. Every listener must play (currentTime advances). Prints one
// line `result {...}` with each listener's segment counts by source (p2p-media-loader's
// onSegmentLoaded events, kept by the page in window.streamp2p.live). With --http-only the
// pages are opened with ?p2p=0 (p2p-media-loader's isP2PDisabled), the baseline for the
// offload benchmark. --no-upload=I opens listener I with ?upload=0 (a phone that takes from
// others but never uploads); --leave=I@S closes listener I S seconds after the last one
// started (it leaves the swarm). Each listener's stalls (the audio element's `waiting`
// events once all play) are in the result; `allStarted` in it is when the last listener started
// (ms since the epoch). Saves the first listener's screenshot to --shot.

import { chromium } from 'playwright-core'
import { CHROMIUM_FLAGS, args, check, fail, log, overallTimeout, sleep } from './lib.mjs'

const opts = args({
  base: { type: 'string' },
  shot: { type: 'string' },
  listeners: { type: 'string', default: '2' },
  seconds: { type: 'string', default: '40' },
  stagger: { type: 'string', default: '2' },
  'http-only': { type: 'boolean', default: false },
  'no-upload': { type: 'string', default: '' },
  leave: { type: 'string', default: '' }
})
check(opts.base && opts.shot, 'need --base --shot')
const n = Number(opts.listeners)
const seconds = Number(opts.seconds)
const noUpload = opts['no-upload'] === '' ? -1 : Number(opts['no-upload'])
const [leaver, leaveAfter] = opts.leave ? opts.leave.split('@').map(Number) : [-1, 0]
overallTimeout(seconds + 60 + n * 20, 'live listeners')

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [...CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required']
})
const errors = []
try {
  const pages = []
  for (let i = 0; i < n; i++) {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 3
    })
    const page = await context.newPage()
    page.on('pageerror', e => errors.push(`listener ${i}: ${e.message}`))
    page.on('console', m => { if (m.type() === 'error') log(`console ${i}:`, m.text()) })
    const query = [opts['http-only'] ? 'p2p=0' : '', i === noUpload ? 'upload=0' : ''].filter(Boolean).join('&')
    await page.goto(`${opts.base}/${query ? '?' + query : ''}`)
    await page.getByRole('button', { name: 'Listen live' }).tap()
    pages.push(page)
    log(`listener ${i} started`)
    await sleep(Number(opts.stagger) * 1000)
  }
  const started = Date.now()
  const first = await Promise.all(pages.map(p => p.evaluate(() => {
    const audio = document.getElementById('audio')
    window.stalls = 0
    audio.addEventListener('waiting', () => { window.stalls += 1 })
    return audio.currentTime
  })))
  let left = null
  while (Date.now() - started < seconds * 1000) {
    await sleep(5000)
    if (leaver >= 0 && !left && Date.now() - started >= leaveAfter * 1000) {
      left = await pages[leaver].evaluate(() => ({ ...window.streamp2p.live, played: document.getElementById('audio').currentTime, stalls: window.stalls }))
      await pages[leaver].context().close()
      log(`listener ${leaver} left`)
    }
    const line = await Promise.all(pages.map((p, i) => i === leaver && left ? 'left' : p.evaluate(() => {
      const s = window.streamp2p && window.streamp2p.live
      return `${document.getElementById('audio').currentTime.toFixed(1)}s ${s ? JSON.stringify(s.segments) : '-'}`
    })))
    log(line.join(' | '))
  }
  const results = []
  for (const [i, page] of pages.entries()) {
    if (i === leaver && left) {
      results.push({ ...left, played: left.played - first[i], left: true, allStarted: started })
      continue
    }
    const r = await page.evaluate(() => ({
      currentTime: document.getElementById('audio').currentTime,
      src: document.getElementById('audio').currentSrc,
      status: document.getElementById('status').textContent,
      live: window.streamp2p && window.streamp2p.live,
      stalls: window.stalls
    }))
    log(`listener ${i}:`, JSON.stringify(r))
    if (r.currentTime - first[i] < seconds / 2) fail(`listener ${i} did not play: ${r.currentTime} s (status: ${r.status})`)
    check(r.live, `listener ${i} did not use hls.js (src ${r.src})`)
    check(r.live.variant === 'opus', `listener ${i} played the ${r.live.variant} variant`)
    results.push({ played: r.currentTime - first[i], ...r.live, stalls: r.stalls, left: false, allStarted: started })
  }
  await pages[leaver === 0 ? 1 : 0].screenshot({ path: opts.shot, fullPage: false })
  check(errors.length === 0, `page errors: ${errors.join(' | ')}`)
  console.log(`result ${JSON.stringify(results)}`)
  log('ok')
} finally {
  await browser.close()
}
