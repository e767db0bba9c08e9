// The operator's guide's pictures (docs/guide/img/<lang>/*.png), taken from a real box by
// Debian's Chromium at a phone's size (390x844, 1x pixels to keep the files small), so they
// can be made again whenever the pages change:
//
//   node scripts/guide-shots.mjs http://127.0.0.1:8080            # every language with a guide
//   node scripts/guide-shots.mjs http://127.0.0.1:8080 --langs=es,en
//
// The box must be fresh (first run not done: the script does it, with the password
// "correct horse battery") and should show what the guide talks about: the live input on air,
// a few episodes on USB sticks and a warning. For example, from the repository:
//
//   d=$(mktemp -d); m=/media/streamp2p   # the box's USB folder: each folder in it is a stick
//   mkdir -p $m/RADIO $m/ARCHIVO
//   for t in "Programa de la mañana" "Tertulia del barrio" "Conciertos"; do
//     ffmpeg -v error -f lavfi -i sine=duration=5 -metadata title="$t" "$m/RADIO/$t.mp3"; done
//   ffmpeg -v error -f lavfi -i sine=duration=5 -metadata title="Archivo 2019" "$m/ARCHIVO/2019.mp3"
//   printf 'audio = "sine"\n[swarm]\ndht = false\nlsd = false\n[station]\ndescription = "%s"\n' \
//     'Radio libre de barrio: música, debates y programas hechos por la gente del barrio.' > $d/c.toml
//   streamp2p run --data-dir $d/data --http 127.0.0.1:80 --config $d/c.toml &
//   node scripts/guide-shots.mjs http://127.0.0.1 --unplug=$m/ARCHIVO
//
// (`--unplug` removes that stick's folder after the first run, as if it were pulled out, so
// the home screen shows a warning.)

import { chromium } from 'playwright-core'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const ALL = ['es', 'ca', 'eu', 'gl', 'pt', 'fr', 'en']
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    langs: { type: 'string' },
    out: { type: 'string', default: join(repo, 'docs/guide/img') },
    password: { type: 'string', default: 'correct horse battery' },
    unplug: { type: 'string' }
  }
})
if (positionals.length !== 1) {
  console.error('usage: node scripts/guide-shots.mjs http://BOX-ADDRESS [--langs=es,en] [--out=DIR]')
  process.exit(2)
}
// The pages are opened as `http://streamp2p.local[:port]`, resolved to the address given, so
// the addresses they show (sharing, QR codes) are the ones a station sees. Run the node on
// port 80 for addresses without a port.
const given = new URL(positionals[0])
const base = `http://streamp2p.local${given.port ? `:${given.port}` : ''}`
const langs = opts.langs
  ? opts.langs.split(',')
  : ALL.filter((l) => existsSync(join(repo, 'docs/guide', `${l}.md`)))

// The station's name as a Spanish community radio would write it, the same in every picture.
const STATION = 'Radio Vallekas'

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--host-resolver-rules=MAP streamp2p.local ${given.hostname}`]
})
const context = await browser.newContext({
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 1,
  locale: 'es-ES',
  // No blinking caret or moving meter in the middle of a picture.
  reducedMotion: 'reduce'
})
const page = await context.newPage()

const inLanguage = (lang) => context.addCookies([{ name: 'sp2p_lang', value: lang, url: base }])
const shot = async (lang, name) => {
  // No focus ring on the last field typed in.
  await page.evaluate(() => document.activeElement && document.activeElement.blur())
  const dir = join(opts.out, lang)
  mkdirSync(dir, { recursive: true })
  await page.screenshot({ path: join(dir, name), caret: 'hide', animations: 'disabled' })
  console.log(`${lang}/${name}`)
}
// Scrolls so that `selector` starts at the top of the screen.
const showSection = (selector) => page.evaluate((s) => {
  const el = document.querySelector(s)
  if (el) window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 8)
}, selector)

try {
  // The first run's password step (the language and the name chosen before), in each
  // language, filled in but not sent.
  for (const lang of langs) {
    await inLanguage(lang)
    await page.goto(`${base}/admin?step=password&station_name=${encodeURIComponent(STATION)}`)
    if (await page.locator('form[action="/admin/setup"]').count() === 0) {
      throw new Error('the box is already set up: start the script on a fresh one')
    }
    await page.fill('input[name=password]', opts.password)
    await page.fill('input[name=password2]', opts.password)
    await shot(lang, '1-setup.png')
  }
  const [done] = await Promise.all([page.waitForNavigation(), page.click('form[action="/admin/setup"] button[type=submit]')])
  if (!done || done.status() !== 200) throw new Error(`the first run failed: HTTP ${done && done.status()}`)
  if (opts.unplug) rmSync(opts.unplug, { recursive: true, force: true })

  for (const lang of langs) {
    await inLanguage(lang)
    await page.goto(`${base}/admin`)
    // Let the status script fill in the numbers and the meter.
    await page.waitForFunction(() => document.getElementById('uptime')?.textContent !== '–', null, { timeout: 10000 })
      .catch(() => {})
    await page.waitForTimeout(1500)
    await shot(lang, '2-dashboard.png')
    await showSection('#air')
    await shot(lang, '3-on-air.png')
    await page.goto(`${base}/admin/episodes`)
    await showSection('#publish')
    await page.fill('#upload-title', 'Tertulia del barrio').catch(() => {})
    await shot(lang, '4-publish.png')
    await page.goto(`${base}/admin/share`)
    await showSection('#share')
    await shot(lang, '5-share.png')
    await page.goto(`${base}/`)
    await shot(lang, '6-listen.png')
  }
} finally {
  await browser.close()
}
