// A Spanish visitor, as deployed: a phone whose browser speaks es-ES opens the box at its
// network address. The listen page and the first-run page are Spanish, the first-run page
// offers Spanish first, and the first run keeps it (the feed then says
// <language>es</language>). The language switch turns the page Basque, and a reload keeps it.
//
// The words expected come from the catalogs (the test reads them and passes them here):
// --listen-es/--listen-eu (`listen-episodes`), --setup-es (`admin-setup-title`),
// --switch-es/--switch-eu (`language-switch`). Prints "ok".

import { args, check, checkEq, fail, log, overallTimeout } from './lib.mjs'
import { firstRun, launch, phoneContext } from './i18n_lib.mjs'

const opts = args({
  base: { type: 'string' },
  'listen-es': { type: 'string' },
  'listen-eu': { type: 'string' },
  'setup-es': { type: 'string' },
  'switch-es': { type: 'string' },
  'switch-eu': { type: 'string' },
  password: { type: 'string', default: 'correct horse battery' }
})
for (const k of ['base', 'listen-es', 'listen-eu', 'setup-es', 'switch-es', 'switch-eu']) check(opts[k], `need --${k}`)
overallTimeout(90, 'Spanish visitor')

const base = opts.base.replace(/\/$/, '')
const browser = await launch()
try {
  const context = await phoneContext(browser, { locale: 'es-ES' })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  const lang = () => page.evaluate(() => document.documentElement.lang)
  const text = () => page.evaluate(() => `${document.title}\n${document.body.innerText}`)
  const says = async (words, where) => {
    const t = await text()
    check(t.includes(words), `${where}: "${words}" is not on the page:\n${t.slice(0, 600)}`)
  }

  // The listen page.
  const listen = await page.goto(`${base}/`)
  checkEq(listen.request().headers()['accept-language']?.split(',')[0], 'es-ES', 'the browser asks for')
  checkEq(await lang(), 'es', 'listen page <html lang>')
  await says(opts['listen-es'], 'listen page in Spanish')
  log('listen page is Spanish')

  // The first run.
  await page.goto(`${base}/admin`)
  checkEq(await lang(), 'es', 'first-run page <html lang>')
  await says(opts['setup-es'], 'first-run page in Spanish')
  const choice = page.locator('ul.choices a[aria-current="true"]')
  check(await choice.count() === 1, 'the first run does not ask for the language')
  checkEq(await choice.getAttribute('lang'), 'es', 'the language offered first')
  await firstRun(page, opts.password, 'Radio Vallekas')
  check(await page.locator('nav.tasks').count() === 1, 'no home screen after the first run')
  checkEq(await lang(), 'es', 'dashboard <html lang>')
  const feed = await (await page.request.get(`${base}/feed.xml`)).text()
  check(feed.includes('<language>es</language>'), `the feed is not Spanish: ${feed.slice(0, 400)}`)
  log('first run kept Spanish; the feed says so')

  // The switch: Basque, kept over a reload.
  await page.goto(`${base}/`)
  const summary = page.locator('details.lang summary')
  check(await summary.count() === 1, 'no language switch on the listen page')
  check((await summary.textContent()).includes(opts['switch-es']), `the switch is not called "${opts['switch-es']}"`)
  await summary.click()
  await Promise.all([page.waitForNavigation(), page.locator('details.lang a[lang=eu]').click()])
  checkEq(await lang(), 'eu', 'after the switch, <html lang>')
  await says(opts['listen-eu'], 'listen page in Basque')
  await page.reload()
  checkEq(await lang(), 'eu', 'after a reload, <html lang>')
  await says(opts['listen-eu'], 'listen page in Basque after a reload')
  check((await page.locator('details.lang summary').textContent()).includes(opts['switch-eu']), 'the switch is not in Basque')
  log('the switch turned the page Basque, and it stayed')
  check(errors.length === 0, `page errors: ${errors.join(' | ')}`)
} catch (e) {
  fail(e.stack || String(e))
} finally {
  await browser.close()
}
console.log('ok')
