// Every page of the box in every language, as a phone shows it: axe-core's WCAG 2.1 A/AA rules
// (zero violations) and the layout check of i18n_lib.mjs at 390x844 and 320x568.
//
// One node, one browser; each language in a fresh phone context of its own (two languages at
// a time), as a visitor or with the operator's session. The node must be fresh (first run not done) and have a live input and a few episodes. Pages:
// listen, an episode's page, a gone episode's page, 404, the operator's guide, first run, first run with a form error, login, login after a wrong password,
// the config page under a name that is not the box's (403), the home screen, each task's page,
// the schedule with a form error, and a change without the security token (403). Prints every problem, then "ok" when
// there is none.

import { rmSync } from 'node:fs'
import { args, fail, log, overallTimeout } from './lib.mjs'
import { LANGS, checkPage, chooseLanguage, firstRun, launch, phoneContext } from './i18n_lib.mjs'

const opts = args({
  base: { type: 'string' },
  langs: { type: 'string', default: LANGS.join(',') },
  password: { type: 'string', default: 'correct horse battery' },
  // A library folder to take away after the first run (a USB stick pulled out), so the
  // dashboard shows a warning. Before the first run it must be there: the first run
  // checks the settings, library folders included.
  unplug: { type: 'string' }
})
if (!opts.base) fail('need --base')
/** Stops the run (it is reported with what was found so far). */
function check (cond, reason) {
  if (!cond) throw new Error(reason)
}
const langs = opts.langs.split(',')
overallTimeout(300, 'i18n pages')

const base = opts.base.replace(/\/$/, '')
const port = new URL(base).port
// A name that is not the box's, resolved to the box: the config page must refuse it (the
// DNS-rebinding guard) with an error page.
const FOREIGN = 'radio.example'
const browser = await launch([`--host-resolver-rules=MAP ${FOREIGN} ${new URL(base).hostname}`])
const problems = []
const notes = []
const started = Date.now()

/** Opens `url` (or runs `go`, which navigates) and checks the page it lands on. */
async function visit (page, what, lang, go, { status, langFromUrl = false } = {}) {
  const t0 = Date.now()
  let response
  try {
    response = await go()
  } catch (e) {
    problems.push({ page: what, lang, kind: 'navigation', detail: e.message.split('\n')[0] })
    // Let Chromium's own error page finish loading, or the next visit is cut short by it.
    await page.waitForLoadState('load').catch(() => {})
    return
  }
  if (status && response && response.status() !== status) {
    problems.push({ page: what, lang, kind: 'status', detail: `HTTP ${response.status()}, want ${status}` })
  }
  const type = response ? (response.headers()['content-type'] || '') : ''
  if (response && !type.startsWith('text/html')) {
    // A bare text answer is no page a person reads with a screen reader's help; it is
    // listed, not checked.
    notes.push(`${what} (${lang}): answered ${type || 'without a type'}, not HTML`)
    return
  }
  await page.waitForLoadState('load')
  const htmlLang = await page.evaluate(() => document.documentElement.lang)
  // The guide is in the language it was written in: the nearest to the visitor's.
  const want = langFromUrl ? new URL(page.url()).pathname.split('/').pop() : lang
  if (htmlLang !== want) problems.push({ page: what, lang, kind: 'lang', detail: `<html lang="${htmlLang}">` })
  problems.push(...await checkPage(page, what, lang))
  log(`${what} (${lang}): checked in ${Date.now() - t0} ms`)
}

const goto = (page, path) => () => page.goto(`${base}${path}`)
const submit = (page, selector) => async () => {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)])
  return response
}

/** Runs `work(lang)` for every language, two at a time (the browser and the node wait on
 * each other often enough that two overlap well on two cores). */
async function eachLanguage (work) {
  const queue = [...langs]
  const worker = async () => {
    for (let lang = queue.shift(); lang; lang = queue.shift()) await work(lang)
  }
  await Promise.all([worker(), worker()])
}

/** A page in a fresh phone context that asks for `lang` (plus `cookies`); closed after `work`. */
async function inLanguage (lang, cookies, work) {
  const context = await phoneContext(browser)
  try {
    await context.addCookies(cookies)
    await chooseLanguage(context, base, lang)
    await context.addCookies([{ name: 'sp2p_lang', value: lang, url: `http://${FOREIGN}:${port}` }])
    const page = await context.newPage()
    page.on('pageerror', (e) => problems.push({ page: page.url(), lang, kind: 'script', detail: e.message }))
    await work(page)
  } finally {
    await context.close()
  }
}

try {
  // Before the first run: the public pages and the first-run form.
  await eachLanguage((lang) => inLanguage(lang, [], async (v) => {
    await visit(v, 'listen', lang, goto(v, '/'), { status: 200 })
    const episode = await v.locator('a[href^="/episode/"]').first().getAttribute('href')
    check(episode, 'the listen page links to no episode page')
    await visit(v, 'episode', lang, goto(v, episode), { status: 200 })
    await visit(v, 'episode gone', lang, goto(v, `/episode/${'0'.repeat(40)}`), { status: 404 })
    await visit(v, '404', lang, goto(v, '/no/such/page'), { status: 404 })
    await visit(v, 'guide', lang, goto(v, '/guide'), { status: 200, langFromUrl: true })
    await visit(v, 'setup, language', lang, goto(v, '/admin'), { status: 200 })
    await visit(v, 'setup, name', lang, goto(v, '/admin?step=name'), { status: 200 })
    await visit(v, 'setup', lang, goto(v, '/admin?step=password&station_name=Radio%20Vallekas'), { status: 200 })
    await v.fill('input[name=password]', opts.password)
    await v.fill('input[name=password2]', 'not the same password')
    await visit(v, 'setup, passwords differ', lang, submit(v, 'form[action="/admin/setup"] button[type=submit]'), { status: 422 })
  }))

  // The first run, by the operator, with a Spanish phone; then a show in the schedule.
  const operator = await phoneContext(browser)
  const op = await operator.newPage()
  await op.goto(`${base}/admin`)
  await firstRun(op, opts.password, 'Radio Vallekas')
  check(await op.locator('nav.tasks').count() === 1, 'no home screen after the first run')
  await Promise.all([op.waitForURL(/\/admin\/schedule$/), op.click('nav.tasks a[href="/admin/schedule"]')])
  const row = op.locator('#schedule fieldset.show').last()
  await row.locator('input[name=name]').fill('Programa de la mañana')
  await row.locator('input[name=start]').fill('08:00')
  await row.locator('input[name=end]').fill('10:00')
  await Promise.all([op.waitForNavigation({ url: /done=/ }), op.click('#schedule button[type=submit]')])
  check(await op.locator('#schedule input[name=name]').first().inputValue() === 'Programa de la mañana', 'the show was not saved')
  if (opts.unplug) rmSync(opts.unplug, { recursive: true, force: true })
  const session = (await operator.cookies()).filter((c) => c.name !== 'sp2p_lang')
  await operator.close()

  // A visitor: login, a wrong password, the right one (which clears the failed count, so
  // seven languages stay under the login limit), and the config page under a foreign name.
  await eachLanguage((lang) => inLanguage(lang, [], async (v) => {
    await visit(v, 'login', lang, goto(v, '/admin'), { status: 200 })
    await v.fill('input[name=password]', 'a wrong password')
    await visit(v, 'login, wrong password', lang, submit(v, 'form[action="/admin/login"] button[type=submit]'), { status: 401 })
    await v.fill('input[name=password]', opts.password)
    await Promise.all([v.waitForNavigation(), v.click('form[action="/admin/login"] button[type=submit]')])
    await visit(v, 'config page under another name', lang, () => v.goto(`http://${FOREIGN}:${port}/admin`), { status: 403 })
  }))

  // The operator's pages, with the operator's session.
  await eachLanguage((lang) => inLanguage(lang, session, async (op) => {
    await visit(op, 'dashboard', lang, async () => {
      const r = await op.goto(`${base}/admin`)
      // The status script fills the numbers after a moment.
      await op.waitForFunction(() => document.getElementById('uptime')?.textContent !== '–', null, { timeout: 10000 })
        .catch(() => {})
      return r
    }, { status: 200 })
    // Each task's page.
    await visit(op, 'first run, step 2', lang, goto(op, '/admin/sound?welcome=1'), { status: 200 })
    await visit(op, 'first run, step 3', lang, goto(op, '/admin/share?welcome=1'), { status: 200 })
    for (const task of ['sound', 'episodes', 'share', 'storage', 'sisters', 'settings', 'technical', 'schedule']) {
      await visit(op, `dashboard: ${task}`, lang, goto(op, `/admin/${task}`), { status: 200 })
    }
    // Two shows at once on the same day: the schedule comes back with the problem beside it.
    const spare = op.locator('#schedule fieldset.show').last()
    await spare.locator('input[name=name]').fill('Tertulia')
    await spare.locator('input[name=start]').fill('09:00')
    await spare.locator('input[name=end]').fill('11:00')
    await visit(op, 'dashboard, schedule overlaps', lang, submit(op, '#schedule button[type=submit]'), { status: 422 })
    // A change that did not come from the page: a form without the security token.
    await op.goto(`${base}/admin`)
    await visit(op, 'forged change', lang, async () => {
      const [response] = await Promise.all([op.waitForNavigation(), op.evaluate(() => {
        const f = document.createElement('form')
        f.method = 'post'
        f.action = '/admin/settings'
        const i = document.createElement('input')
        i.name = 'station_name'
        i.value = 'Forged'
        f.append(i)
        document.body.append(f)
        f.submit()
      })])
      return response
    }, { status: 403 })
  }))
  // Last, as it shuts the login for a while: wrong passwords until the login waits; then
  // the waiting login page in every language.
  const locker = await phoneContext(browser)
  const l = await locker.newPage()
  let locked = false
  for (let i = 0; i < 8 && !locked; i++) {
    await l.goto(`${base}/admin`)
    await l.fill('input[name=password]', 'a wrong password')
    const [r] = await Promise.all([l.waitForNavigation(), l.click('form[action="/admin/login"] button[type=submit]')])
    locked = r.status() === 429
  }
  await locker.close()
  check(locked, 'eight wrong passwords did not make the login wait')
  await eachLanguage((lang) => inLanguage(lang, [], async (v) => {
    await v.goto(`${base}/admin`)
    await v.fill('input[name=password]', 'a wrong password')
    await visit(v, 'login, waiting after wrong passwords', lang, submit(v, 'form[action="/admin/login"] button[type=submit]'), { status: 429 })
  }))
} catch (e) {
  problems.push({ page: '-', lang: '-', kind: 'stopped', detail: e.stack || String(e) })
} finally {
  await browser.close()
}

for (const n of notes) log(`note: ${n}`)
log(`checked ${langs.length} languages in ${((Date.now() - started) / 1000).toFixed(1)} s`)
if (problems.length > 0) {
  const byKind = {}
  for (const p of problems) byKind[p.kind] = (byKind[p.kind] || 0) + 1
  for (const p of problems) console.log(`PROBLEM [${p.kind}] ${p.page} (${p.lang}): ${p.detail}`)
  fail(`${problems.length} problems: ${JSON.stringify(byKind)}`)
}
console.log('ok')
