// The seven everyday tasks of a volunteer on a new box, done as a person does them: only by
// what the page shows (roles and labels, in the visitor's language, taken from the box's
// own message catalogs), never typing a path or an address. Every tap is counted; typing a
// name or a title is not. The first run walks tasks 1 to 3 (its steps are the tasks); the
// others start from the home screen.
//
// --lang, --width, --height: the phone. --stick: a USB stick's folder, "plugged in" by
// moving it into --usb (the box's USB folder) at task 5. --episode: the file to publish.
// --yesterday-peak, --yesterday-at: what the box's history says of yesterday.
// Prints "ok", then "taps {...}" (taps per task).

import { readFileSync, readdirSync, renameSync, mkdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { args, check, fail, log, overallTimeout, until } from './lib.mjs'
import { launch, phoneContext } from './i18n_lib.mjs'

const opts = args({
  base: { type: 'string' },
  lang: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  stick: { type: 'string' },
  usb: { type: 'string' },
  episode: { type: 'string' },
  'yesterday-peak': { type: 'string' },
  'yesterday-at': { type: 'string' },
  shots: { type: 'string' },
  // Also a picture of every task page at the end, for a person to look at.
  'all-pages': { type: 'boolean', default: false },
  password: { type: 'string', default: 'correct horse battery' }
})
for (const k of ['base', 'lang', 'width', 'height', 'stick', 'usb', 'episode', 'yesterday-peak', 'yesterday-at', 'shots']) check(opts[k], `need --${k}`)
overallTimeout(240, 'the seven tasks')
mkdirSync(opts.shots, { recursive: true })

// The box's words in this language: its catalogs' one-line messages.
const words = {}
for (const file of readdirSync(join('locales', opts.lang))) {
  for (const line of readFileSync(join('locales', opts.lang, file), 'utf8').split('\n')) {
    const m = line.match(/^([a-z0-9-]+) = (.+)$/)
    if (m) words[m[1]] = m[2]
  }
}
const w = (id) => words[id] || fail(`no message ${id} in ${opts.lang}`)
// A name that starts with `text` (a list's name also holds its chosen option's words).
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const starting = (text) => new RegExp(`^${escape(text)}`)
// Each language by its own name, as the first run lists them.
const LANGUAGE_NAMES = { es: 'Español', en: 'English' }
const base = opts.base.replace(/\/$/, '')

const browser = await launch()
const taps = {}
let task = null
let count = 0
const begin = (name) => { task = name; count = 0 }
const end = () => { taps[task] = count; log(`${task}: ${count} taps`) }
// A tap on what `locator` finds (it must be one thing, seen on the screen).
const tap = async (locator) => { count++; await locator.click() }
// A native list: a tap to open it, a tap on the choice.
const choose = async (locator, option) => { count += 2; await locator.selectOption(option) }

try {
  const context = await phoneContext(browser, {
    locale: opts.lang === 'es' ? 'es-ES' : 'en-GB',
    width: Number(opts.width),
    height: Number(opts.height)
  })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  const shot = (name) => page.screenshot({ path: join(opts.shots, `${opts.lang}-${opts.width}-${name}.png`), fullPage: true })
  const home = () => page.goto(`${base}/admin`)
  const link = (name) => page.getByRole('link', { name, exact: true })
  const button = (name) => page.getByRole('button', { name, exact: true })
  const region = (name) => page.getByRole('region', { name })

  // 1. Name the station and pick the sound input: the first run's questions.
  begin('name the station and pick the sound input')
  await home()
  await shot('1a-language')
  await tap(link(LANGUAGE_NAMES[opts.lang]))
  await page.getByLabel(w('admin-station-name')).fill('Radio Vallekas')
  await shot('1b-name')
  await tap(button(w('dash-welcome-next')))
  await page.getByLabel(w('admin-password-new')).fill(opts.password)
  await page.getByLabel(w('admin-password-again')).fill(opts.password)
  await shot('1c-password')
  await tap(button(w('admin-setup-submit')))
  await page.waitForURL(/\/admin\/sound\?welcome=1$/)
  const input = page.getByRole('combobox', { name: starting(w('dash-audio')) })
  await choose(input, { label: 'USB line-in (linein)' })
  await tap(button(w('dash-save')))
  await page.waitForURL(/done=/)
  check((await input.inputValue()) === 'alsa:linein', 'the line-in was not saved')
  end()

  // 2. Check that the sound is right: what goes out, the meter's word, and Listen.
  begin('check that the sound is right')
  await until('the line-in on the air', 30000, async () => {
    const said = await region(w('dash-level-title')).getByRole('status').textContent()
    return [said === w('dash-air-line-in'), said]
  })
  await region(w('dash-level-title')).getByText(w('dash-meter-word-good'), { exact: true })
    .waitFor({ timeout: 15000 })
  const stream = page.waitForResponse((r) => r.url().endsWith('/live.mp3') && r.status() === 200, { timeout: 15000 })
  await tap(button(w('dash-listen')))
  const heard = await stream
  check(heard.headers()['content-type']?.startsWith('audio/mpeg'), 'Listen did not play the stream')
  await shot('2-sound')
  await tap(button(w('dash-listen-stop')))
  end()

  // 3. Share the station with listeners: the first run's last step.
  begin('share the station with listeners')
  await tap(link(w('dash-welcome-next')))
  await page.waitForURL(/\/admin\/share\?welcome=1$/)
  // The links for people on this Wi-Fi (the box's name, then its address), each with its
  // Copy button in the same order; the last is the address.
  const wifiLinks = page.getByRole('textbox', { name: new RegExp(escape(w('dash-share-this-wifi'))) })
  const last = (await wifiLinks.count()) - 1
  const wifi = wifiLinks.nth(last)
  const address = await wifi.inputValue()
  check(!/127\.0\.0\.1|localhost|\[::1\]/.test(address), `a loopback link is offered: ${address}`)
  check(address.startsWith(base), `the box's own address is not offered: ${address}`)
  const copy = button(w('dash-copy')).nth(last)
  await tap(copy)
  // Plain http has no Clipboard API: the field is selected, and copied the old way.
  const selected = await page.evaluate(() => {
    const e = document.activeElement
    return e?.value?.slice(e.selectionStart, e.selectionEnd)
  })
  check(selected === address, `Copy did not take the address: ${selected}`)
  await shot('3-share')
  await tap(link(w('dash-welcome-finish')))
  await page.waitForURL(/\/admin$/)
  end()

  // 4. Publish an episode.
  begin('publish an episode')
  await home()
  await tap(link(w('dash-task-episodes')))
  // The phone's file picker: a tap to open it, a tap on the file.
  const chooser = page.waitForEvent('filechooser')
  await tap(page.getByLabel(/MP3/))
  count++
  await (await chooser).setFiles(opts.episode)
  await page.getByLabel(w('dash-field-title'), { exact: true }).first().fill('Programa de la mañana')
  await tap(button(w('dash-upload-submit')))
  await page.getByText('Programa de la mañana').first().waitFor({ timeout: 60000 })
  await shot('4-published')
  end()

  // 5. Put a USB stick's archive online: plug it in, see it by name, shared at once.
  begin("put a USB stick's archive online")
  renameSync(opts.stick, join(opts.usb, basename(opts.stick)))
  await home()
  const label = basename(opts.stick)
  await until('the stick on the home screen', 10000, async () => {
    await page.reload()
    const card = region(w('dash-usb-title'))
    const said = (await card.count()) === 1 ? await card.textContent() : ''
    return [said.includes(label), said]
  })
  await tap(link(w('dash-task-storage')).first())
  const row = page.getByRole('listitem').filter({ hasText: label })
  await until('the stick shared with its three files', 30000, async () => {
    await page.reload()
    const said = await row.textContent()
    return [/(^|\D)3 \D/.test(said), said]
  })
  await shot('5-usb')
  end()
  await until("the stick's episodes on the listen page", 30000, async () => {
    const listen = await (await page.request.get(`${base}/`)).text()
    return [listen.includes('Voces del barrio'), listen.length]
  })

  // 6. Schedule a weekly show.
  begin('schedule a weekly show')
  await home()
  await tap(link(w('dash-task-schedule')))
  const show = page.getByRole('group').filter({ has: page.getByRole('combobox', { name: starting(w('dash-show-day')) }) }).last()
  await show.getByLabel(w('dash-show'), { exact: true }).fill('Tertulia del barrio')
  await choose(show.getByRole('combobox', { name: starting(w('dash-show-day')) }), { index: 4 })
  await show.getByLabel(w('dash-show-start')).fill('20:00')
  await show.getByLabel(w('dash-show-end')).fill('21:00')
  await tap(button(w('dash-schedule-save')))
  await page.waitForURL(/done=/)
  check((await page.getByLabel(w('dash-show'), { exact: true }).first().inputValue()) === 'Tertulia del barrio', 'the show was not saved')
  await shot('6-schedule')
  end()

  // 7. See how many listened yesterday: on the home screen, no tap.
  begin('see how many listened yesterday')
  await home()
  const air = await region(w('dash-air-title')).textContent()
  const yesterday = air.slice(air.indexOf(w('dash-stat-yesterday')))
  check(yesterday.includes(opts['yesterday-peak']) && yesterday.includes(opts['yesterday-at']),
    `yesterday's listeners are not said: ${air}`)
  check(!air.includes('99'), `the day before yesterday counted: ${air}`)
  await page.screenshot({ path: join(opts.shots, `${opts.lang}-${opts.width}-7-home.png`), fullPage: true })
  end()

  if (opts['all-pages']) {
    for (const name of ['sound', 'episodes', 'schedule', 'share', 'storage', 'sisters', 'settings', 'technical']) {
      await page.goto(`${base}/admin/${name}`)
      await shot(`8-${name}`)
    }
  }
  check(errors.length === 0, `page errors: ${errors.join('; ')}`)
  // The home screen as the benchmark reports it: its height, and the bytes a first visit
  // takes (as sent, compressed): the page, then with its style and script.
  const home7 = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0]
    const own = performance.getEntriesByType('resource').filter((r) => /\/assets\//.test(r.name))
    return {
      height: document.documentElement.scrollHeight,
      html: nav.encodedBodySize,
      withAssets: nav.encodedBodySize + own.reduce((n, r) => n + r.encodedBodySize, 0)
    }
  })
  log(`home screen: ${home7.height} px, ${home7.html} B compressed, ${home7.withAssets} B with style and script`)
  console.log('ok')
  console.log(`taps ${JSON.stringify(taps)}`)
} finally {
  await browser.close()
}
