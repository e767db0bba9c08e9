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
  timeout: { type: 'string', default: '140' }
})
check(opts.base && opts.ns && opts.title, 'need --base --ns --title')
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
  page.on('console', m => { if (m.type() !== 'log') log(`${name} console:`, m.type(), m.text()) })
  await page.goto(`${opts.base}/`)
  const ctx = await page.evaluate(async () => ({
    secure: window.isSecureContext,
    workers: 'serviceWorker' in navigator ? (await navigator.serviceWorker.getRegistrations()).length : 0
  }))
  check(ctx.secure === false, `${name}: the page is a secure context`)
  return { name, page, errors }
}

// Plays `title` and waits until the audio has played past `seconds` and, with `whole`,
// the listener has the whole file. Returns the page's counters and what it took.
async function play ({ name, page, errors }, title, seconds, whole) {
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
  return { ...s.episode, startMs: firstSound, status: s.status, src: s.src }
}

try {
  const n = Number(opts.listeners)
  check(n >= 2, '--listeners must be at least 2')
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
  log('ok')
} finally {
  for (const b of open) await b.close().catch(() => {})
}
