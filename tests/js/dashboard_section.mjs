// One section of the dashboard (`--section`, its id: reach, https, ...) on a phone
// (390x844), in Spanish and English: axe-core's WCAG 2.1 A/AA rules (zero violations) and the
// layout checks of i18n_lib.mjs (no sideways scroll, nothing cut off, 44 px touch targets) on
// the page that has it (the home screen or a task's), and a screenshot of the section (`--shots DIR/SECTION-LANG.png`) for a person to
// look at. Logs in with `--password` (the first run is done). Prints the section's text, then
// "ok".

import { args, fail, log, overallTimeout } from './lib.mjs'
import { checkPage, chooseLanguage, launch, phoneContext } from './i18n_lib.mjs'

const opts = args({
  base: { type: 'string' },
  password: { type: 'string' },
  section: { type: 'string' },
  shots: { type: 'string' }
})
if (!opts.base || !opts.password || !opts.section || !opts.shots) {
  fail('need --base, --password, --section and --shots')
}
const id = opts.section
overallTimeout(120, `${id} section`)

const base = opts.base.replace(/\/$/, '')
const browser = await launch()
const problems = []
try {
  for (const lang of ['es', 'en']) {
    const context = await phoneContext(browser, { locale: lang })
    await chooseLanguage(context, base, lang)
    const page = await context.newPage()
    await page.goto(`${base}/admin`)
    await page.fill('form[action="/admin/login"] input[name=password]', opts.password)
    await Promise.all([page.waitForNavigation(), page.click('form[action="/admin/login"] button[type=submit]')])
    // The section is on the home screen or on one of the task pages it links to.
    const tasks = await page.$$eval('nav.tasks a', (links) => links.map((a) => a.getAttribute('href')))
    const section = page.locator(`section#${id}`)
    for (const path of tasks) {
      if (await section.count() === 1) break
      await page.goto(`${base}${path}`)
    }
    if (await section.count() !== 1) {
      problems.push({ lang, kind: 'missing', detail: `no ${id} section on /admin or its task pages` })
    } else {
      log(`${id} (${lang}): ${JSON.stringify(await section.innerText())}`)
      problems.push(...await checkPage(page, 'dashboard', lang))
      await section.screenshot({ path: `${opts.shots}/${id}-${lang}.png` })
    }
    await context.close()
  }
} finally {
  await browser.close()
}
for (const p of problems) log(`PROBLEM ${p.lang} ${p.kind}: ${p.detail}`)
if (problems.length > 0) fail(`${problems.length} problems`)
log('ok')
