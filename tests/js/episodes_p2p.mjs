// Listeners on plain http (the node's LAN address, not a secure context) play an episode one
// after another in Debian's Chromium, each in its own profile, through WebTorrent into Media
// Source Extensions, and stay on the page to share it. Bytes leaving the node's network
// namespace are read from its interface's counter (`ip netns exec NS cat
// /sys/class/net/*/statistics/tx_bytes`) around each listener's play, not from the page.
//
// --title: the episode every listener plays (--listeners of them, at least 2). Each listener
// plays until its copy is whole and the audio has played past --seconds. For listeners 2..N,
// a listener's counters and the node's bytes out while it played are printed as
// `RESULT {json}` lines; with --check the second listener must get more than half the
// episode from the first and the node must send under half the episode while it plays.
// --also=TITLE:route (repeatable): one more listener plays that episode alone, by that route
// (`mse` or `blob`), past --seconds.
// --seek=TITLE (repeatable): one more listener plays that episode and, while the file is far
// from whole, seeks to 70% of it: playback must go on from there within a few seconds, with
// the pieces around the target fetched and most of those between still missing (the node's
// link is meant to be slow enough for that: the test shapes it).

import { execFileSync } from 'node:child_process'
import { args, check, fail, log, overallTimeout, sleep } from './lib.mjs'
import { phone } from './phone.mjs'

const opts = args({
  base: { type: 'string' },
  ns: { type: 'string' },
  title: { type: 'string' },
  listeners: { type: 'string', default: '2' },
  seconds: { type: 'string', default: '4' },
  check: { type: 'boolean', default: false },
  also: { type: 'string', multiple: true, default: [] },
  seek: { type: 'string', multiple: true, default: [] },
  timeout: { type: 'string', default: '140' }
})
check(opts.base && opts.ns, 'need --base --ns')
overallTimeout(Number(opts.timeout), 'episodes over WebTorrent')

// Bytes sent by every interface of the node's namespace but loopback.
function txBytes () {
  const out = execFileSync('ip', ['netns', 'exec', opts.ns, 'sh', '-c',
    'for d in /sys/class/net/*; do [ "${d##*/}" = lo ] || cat "$d/statistics/tx_bytes"; done'])
  return out.toString().trim().split(/\s+/).reduce((a, b) => a + Number(b), 0)
}

const open = []

// A listener: a fresh Chromium profile on the listen page, plain http.
async function listener (name) {
  const browser = await phone({ autoplay: true })
  open.push(browser)
  const page = await browser.context.newPage()
  const errors = []
  page.on('pageerror', e => errors.push(e.message))
  // Scripts fetched, to check mp4box.js comes only with an M4A.
  const scripts = []
  page.on('request', r => { if (r.resourceType() === 'script') scripts.push(new URL(r.url()).pathname) })
  page.on('console', m => { if (m.type() !== 'log') log(`${name} console:`, m.type(), m.text()) })
  await page.goto(`${opts.base}/`)
  const ctx = await page.evaluate(async () => ({
    secure: window.isSecureContext,
    workers: 'serviceWorker' in navigator ? (await navigator.serviceWorker.getRegistrations()).length : 0
  }))
  check(ctx.secure === false, `${name}: the page is a secure context`)
  return { name, page, errors, browser, scripts }
}

// Plays `title` and waits until the audio has played past `seconds` and, with `whole`,
// the listener has the whole file. Returns the page's counters and what it took.
async function play ({ name, page, errors, scripts }, title, seconds, whole) {
  const clicked = Date.now()
  await page.getByRole('button', { name: `Play ${title}` }).click()
  let firstSound = null
  const deadline = Date.now() + 40_000
  let s = null
  while (Date.now() < deadline) {
    s = await page.evaluate(() => {
      const a = document.getElementById('audio')
      const c = window.streamp2p && window.streamp2p.client
      const t = c && c.torrents[0]
      return {
        t: a.currentTime,
        error: a.error && a.error.message,
        src: a.currentSrc,
        done: Boolean(t && t.done),
        episode: window.streamp2p && window.streamp2p.episode,
        // What the page is connected to, for a failure's message.
        wires: t ? t.wires.map(w => `${w.type}:${String(w.peerId).slice(0, 12)}:${w.peerChoking ? 'choked' : 'open'}`) : [],
        status: document.getElementById('status').textContent
      }
    })
    if (s.error) fail(`${name}: the audio element failed: ${s.error}`)
    if (s.t > 0 && firstSound === null) firstSound = Date.now() - clicked
    if (s.t > seconds && (!whole || s.done)) break
    await sleep(200)
  }
  log(`${name}: ${JSON.stringify(s)}`)
  check(s.t > seconds, `${name}: audio stuck at ${s.t} s (status: ${s.status}; errors: ${errors.join(' | ')})`)
  check(!whole || s.done, `${name}: the episode never became whole`)
  check(s.episode, `${name}: no window.streamp2p.episode: the page did not use WebTorrent`)
  check(errors.length === 0, `${name}: page errors: ${errors.join(' | ')}`)
  const mp4box = scripts.some(p => p.startsWith('/assets/mp4box.all.'))
  check(mp4box === /mp4a/.test(s.episode.mime || ''), `${name}: mp4box.js fetched: ${mp4box}, for ${s.episode.mime}`)
  return { ...s.episode, startMs: firstSound, status: s.status, src: s.src }
}

// What the listener holds: pieces in all, the one at byte fraction `at`, and the share of
// those between fractions `from` and `to`.
function holding (page, at, from, to) {
  return page.evaluate(([at, from, to]) => {
    const t = window.streamp2p.client.torrents[0]
    const n = t.pieces.length
    const has = i => t.bitfield.get(Math.min(i, n - 1))
    let all = 0
    let between = 0
    for (let i = 0; i < n; i++) all += has(i) ? 1 : 0
    const a = Math.floor(from * n)
    const b = Math.floor(to * n)
    for (let i = a; i < b; i++) between += has(i) ? 1 : 0
    return { pieces: n, held: all / n, target: has(Math.floor(at * n)), between: between / Math.max(b - a, 1), done: t.done }
  }, [at, from, to])
}

// Plays `title`, seeks to 70% once it plays, and checks playback goes on from there with
// the pieces around the target fetched, not the whole file.
async function seek (l, title) {
  const { name, page, errors } = l
  const { startMs } = await play(l, title, 1, false)
  const duration = await page.evaluate(() => document.getElementById('audio').duration)
  check(duration > 10, `${name}: the episode's duration is ${duration}`)
  const target = duration * 0.7
  const before = await holding(page, 0.7, 0.35, 0.55)
  check(!before.done && !before.target, `${name}: the file's 70% was there before the seek: ${JSON.stringify(before)}`)
  await page.evaluate(t => { document.getElementById('audio').currentTime = t }, target)
  const sought = Date.now()
  let t = 0
  while (Date.now() - sought < 15_000) {
    t = await page.evaluate(() => document.getElementById('audio').currentTime)
    if (t > target + 1) break
    await sleep(200)
  }
  check(t > target + 1 && t < target + 15, `${name}: after seeking to ${target.toFixed(1)} s the audio is at ${t} s`)
  const resumeMs = Date.now() - sought
  // The target byte: the time's share of the file is close enough for the pieces (CBR).
  const after = await holding(page, 0.7, 0.35, 0.55)
  check(after.target, `${name}: playing at ${t} s without the piece at 70%: ${JSON.stringify(after)}`)
  check(!after.done && after.between < 0.5, `${name}: the seek fetched more than the pieces around it: ${JSON.stringify(after)}`)
  check(errors.length === 0, `${name}: page errors: ${errors.join(' | ')}`)
  const episode = await page.evaluate(() => window.streamp2p.episode)
  check(episode.route === 'mse', `${name}: played by ${episode.route}, not through Media Source Extensions`)
  return { target, startMs, resumeMs, before, after, ...episode }
}

try {
  const n = opts.title ? Number(opts.listeners) : 0
  check(!opts.title || n >= 2, '--listeners must be at least 2')
  const seconds = Number(opts.seconds)
  for (let i = 1; i <= n; i++) {
    const l = await listener(`listener ${i}`)
    const before = txBytes()
    const got = await play(l, opts.title, seconds, true)
    const out = txBytes() - before
    check(got.route === 'mse', `listener ${i} played by ${got.route}, not through Media Source Extensions`)
    check(got.src.startsWith('blob:'), `listener ${i}: the audio element plays ${got.src}, not a MediaSource`)
    const result = { listener: i, size: got.size, nodeOut: out, ratio: out / got.size, ...got }
    console.log(`RESULT ${JSON.stringify(result)}`)
    if (opts.check && i === 2) {
      check(got.fromPeers > got.size / 2, `listener 2 got ${got.fromPeers} of ${got.size} bytes from listener 1`)
      check(out < got.size / 2, `the node sent ${out} bytes while listener 2 played a ${got.size}-byte episode`)
    }
  }
  for (const also of opts.also) {
    const [title, want] = also.split(':')
    const l = await listener(title)
    const got = await play(l, title, Math.min(seconds, 2), false)
    check(got.route === want, `${title} played by ${got.route}, want ${want}`)
    console.log(`ALSO ${JSON.stringify({ title, ...got })}`)
  }
  for (const title of opts.seek) {
    const l = await listener(title)
    const got = await seek(l, title)
    console.log(`SEEK ${JSON.stringify({ title, ...got })}`)
    // The next one gets the slow link to itself.
    await l.browser.close()
  }
  log('ok')
} finally {
  for (const b of open) await b.close().catch(() => {})
}
