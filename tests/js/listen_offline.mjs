// A USB stick pulled out while someone listens, in Debian's Chromium on the listen page:
// the episode already playing goes on (the page holds what it loaded, and would take the
// rest from other listeners), and an episode of the stick chosen afterwards says it is
// offline instead of waiting in silence.
//
// --base: the box. --playing, --other: the two episodes' titles (both on the stick).
// --pull: the stick's folder, --away: where it goes when "pulled out". --offline: what the
// page must say (the catalog's listen-js-episode-offline). Prints "ok".

import { renameSync } from 'node:fs'
import { args, check, getJson, log, overallTimeout, until } from './lib.mjs'
import { phone } from './phone.mjs'

const opts = args({
  base: { type: 'string' },
  playing: { type: 'string' },
  other: { type: 'string' },
  pull: { type: 'string' },
  away: { type: 'string' },
  offline: { type: 'string' }
})
for (const k of ['base', 'playing', 'other', 'pull', 'away', 'offline']) check(opts[k], `need --${k}`)
overallTimeout(90, 'a stick pulled during a listen')
const base = opts.base.replace(/\/$/, '')

const { context, close } = await phone({ autoplay: true })
try {
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(`${base}/`)
  const play = (title) => page.getByRole('button', { name: new RegExp(title) })
  const time = () => page.evaluate(() => document.getElementById('audio').currentTime)

  await play(opts.playing).click()
  await until('the first episode playing', 30000, async () => {
    const t = await time()
    return [t > 0.5, t]
  })
  // Pulled out: the box takes the stick's episodes offline.
  renameSync(opts.pull, opts.away)
  await until('the stick\'s episodes offline at the box', 15000, async () => {
    const items = await getJson(`${base}/api/library`)
    return [items.length === 0, items.length]
  })
  const at = await time()
  await until('the episode going on after the pull', 15000, async () => {
    const t = await time()
    return [t > at + 1.5, t]
  })
  log(`went on from ${at.toFixed(1)} s`)

  // Another episode of the stick, chosen now: said to be offline.
  await play(opts.other).click()
  const said = page.locator('#status-say')
  await until('the page saying the episode is offline', 20000, async () => {
    const text = await said.textContent()
    return [text === opts.offline, text]
  })
  check(errors.length === 0, `page errors: ${errors.join('; ')}`)
  console.log('ok')
} finally {
  await close()
}
