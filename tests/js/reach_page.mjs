// The dashboard's "Reachable from the internet" section on a phone (390x844), in Spanish and
// English: axe-core's WCAG 2.1 A/AA rules (zero violations) and the layout checks of
// i18n_lib.mjs (no sideways scroll, nothing cut off, 44 px touch targets) on /admin, and a
// screenshot of the section (`--shots DIR/reach-LANG.png`) for a person to look at. Logs in
// with `--password` (the first run is done). Prints the section's text, then "ok".

import { args, fail, log, overallTimeout } from './lib.mjs'
import { checkPage, chooseLanguage, launch, phoneContext } from './i18n_lib.mjs'

const opts = args({
  base: { type: 'string' },
  password: { type: 'string' },
  shots: { type: 'string' }
})
if (!opts.base || !opts.password || !opts.shots) fail('need --base, --password and --shots')
overallTimeout(120, 'reach section')

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
    const section = page.locator('section#reach')
    if (await section.count() !== 1) {
      problems.push({ lang, kind: 'missing', detail: 'no reach section on /admin' })
    } else {
      log(`reach (${lang}): ${JSON.stringify(await section.innerText())}`)
      problems.push(...await checkPage(page, 'dashboard', lang))
      await section.screenshot({ path: `${opts.shots}/reach-${lang}.png` })
    }
    await context.close()
  }
} finally {
  await browser.close()
}
for (const p of problems) log(`PROBLEM ${p.lang} ${p.kind}: ${p.detail}`)
if (problems.length > 0) fail(`${problems.length} problems`)
log('ok')
