// The config page in Debian's Chromium at a phone's size, as an operator uses it: first-run
// setup, log out, a wrong then the right password, a new station name (checked on the
// listen page and in the feed), and publishing a file whose upload is cut twice (a dropped
// chunk, then a reload and the same file chosen again) and resumes. Screenshots go to
// --shots. Prints "ok" and a JSON line of what it saw.

import { join } from 'node:path'
import { args, check, fail, log, overallTimeout } from './lib.mjs'
import { phone } from './phone.mjs'

const opts = args({
  base: { type: 'string' },
  shots: { type: 'string' },
  file: { type: 'string' },
  title: { type: 'string' }
})
check(opts.base && opts.shots && opts.file && opts.title, 'need --base --shots --file --title')
overallTimeout(150, 'config page')

const PASSWORD = 'correct horse battery'
const { context, close } = await phone()
// The words checked below are English; the node's own language is Spanish.
await context.setExtraHTTPHeaders({ 'Accept-Language': 'en-US,en;q=0.9' })
const seen = {}
try {
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  // Failed loads are expected here (the wrong password's 401, the dropped chunk); script
  // errors are not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text())
  })
  const shot = (name) => page.screenshot({ path: join(opts.shots, name), fullPage: name.includes('full') })

  // First run, one question a screen: the language, the name, the password.
  await page.goto(`${opts.base}/admin`)
  check(await page.locator('h1').textContent() === 'Welcome', 'first run shows the language step')
  await Promise.all([page.waitForURL(/step=name/), page.getByRole('link', { name: 'English' }).click()])
  await page.getByLabel('Station name').fill('Radio Dunas')
  await Promise.all([page.waitForURL(/step=password/), page.getByRole('button', { name: 'Next' }).click()])
  check((await page.locator('form[action="/admin/setup"]').textContent()).includes('Radio Dunas'), 'the name goes on to the password step')
  await page.fill('input[name=password]', PASSWORD)
  await page.fill('input[name=password2]', PASSWORD)
  await shot('1-setup.png')
  // Then the sound input, then how listeners reach the box.
  await Promise.all([page.waitForURL(/\/admin\/sound\?welcome=1$/), page.click('button[type=submit]')])
  check((await page.locator('#welcome h2').textContent()) === 'Where does the sound come from?', 'step 4 after setup')
  await shot('1b-step-sound.png')
  await Promise.all([page.waitForURL(/\/admin\/share\?welcome=1$/), page.getByRole('link', { name: 'Next' }).click()])
  check((await page.locator('#welcome h2').textContent()) === 'How will listeners reach the station?', 'step 5')
  await Promise.all([page.waitForURL(/\/admin$/), page.getByRole('link', { name: 'Finish' }).click()])
  check((await page.locator('header h1').textContent()) === 'Radio Dunas', 'dashboard after setup')
  // Give the status script a moment to fill the numbers, then look at the dashboard.
  await page.waitForFunction(() => document.getElementById('uptime')?.textContent !== '–', null, { timeout: 10000 })
  await shot('2-dashboard.png')
  await shot('2-dashboard-full.png')
  // Touch targets: every button and field is at least 44 px tall.
  const small = await page.$$eval('button, input:not([type=hidden]):not([type=checkbox]), select, nav a',
    (els) => els.filter((e) => e.offsetParent && e.getBoundingClientRect().height < 44).map((e) => e.outerHTML.slice(0, 80)))
  check(small.length === 0, `small touch targets: ${JSON.stringify(small)}`)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
  check(!overflow, 'the page scrolls sideways at 390 px')

  // Log out, a wrong password, then the right one.
  await Promise.all([page.waitForURL(/\/admin$/), page.click('text=Log out')])
  check(await page.locator('h1').textContent() === 'Station settings', 'login page after logout')
  await page.fill('input[name=password]', 'wrong password')
  await page.click('button[type=submit]')
  await page.waitForSelector('.error')
  check((await page.locator('.error').textContent()).includes('Wrong password'), 'wrong password said so')
  await shot('3-wrong-password.png')
  await page.fill('input[name=password]', PASSWORD)
  await Promise.all([page.waitForURL(/\/admin$/), page.click('button[type=submit]')])
  check((await page.locator('header h1').textContent()) === 'Radio Dunas', 'dashboard after login')

  // A new station name, on the Settings page the home screen leads to; then the public pages.
  await Promise.all([page.waitForURL(/\/admin\/settings$/), page.click('nav.tasks a[href="/admin/settings"]')])
  await page.fill('#settings input[name=station_name]', 'Radio Dunas FM')
  await Promise.all([page.waitForURL(/done=/), page.click('#settings button[type=submit]')])
  check((await page.locator('.notice').textContent()).startsWith('Saved'), 'settings saved notice')
  const listen = await (await page.request.get(`${opts.base}/`)).text()
  check(listen.includes('<h1>Radio Dunas FM</h1>'), 'listen page shows the new name')
  const feed = await (await page.request.get(`${opts.base}/feed.xml`)).text()
  check(feed.includes('<title>Radio Dunas FM</title>'), 'feed shows the new name')

  // Publish, on the Episodes page, with two interruptions.
  const offsets = []
  page.on('request', (r) => {
    const m = r.url().match(/\/admin\/uploads\/[0-9a-f]+\?offset=(\d+)/)
    if (m && r.method() === 'PUT') offsets.push(Number(m[1]))
  })
  let dropped = false
  let puts = 0
  await page.route(/\/admin\/uploads\/[0-9a-f]+\?offset=/, async (route) => {
    // The second chunk's connection drops once.
    // Slowed like a phone's upload, so the page can be left midway; the second chunk's
    // connection drops once.
    puts += 1
    await new Promise((resolve) => setTimeout(resolve, 300))
    if (!dropped && puts === 2) { dropped = true; return route.abort('connectionreset') }
    return route.continue()
  })
  await page.goto(`${opts.base}/admin/episodes`)
  await page.setInputFiles('#upload-file', opts.file)
  await page.fill('#upload-title', opts.title)
  await page.fill('#upload-desc', 'Recorded at the dunes.')
  await page.click('#upload button[type=submit]')
  // After three chunks, the operator closes the page (the upload stops midway)...
  const status = () => page.textContent('#upload-status')
  await page.waitForFunction(() => /Sending: [3-9]\.\d MB/.test(document.getElementById('upload-status').textContent), null, { timeout: 30000 })
    .catch(async (e) => fail(`upload never got past 3 MB: ${await status()} (${e.message})`))
  await shot('4-uploading.png')
  const before = offsets.length
  await page.goto(`${opts.base}/admin/episodes#publish`)
  // ...and chooses the same file again: it goes on from where it stopped.
  await page.setInputFiles('#upload-file', opts.file)
  await page.fill('#upload-title', opts.title)
  await page.click('#upload button[type=submit]')
  await page.waitForFunction(() => document.getElementById('upload-status').textContent.startsWith('Published'), null, { timeout: 60000 })
    .catch(async (e) => fail(`upload not published: ${await status()} (${e.message})`))
  await shot('5-published.png')
  seen.offsets = offsets
  seen.resumed_at = offsets[before]
  check(dropped, 'a chunk was dropped')
  check(seen.resumed_at > 0, `after the reload the upload restarted from 0: ${JSON.stringify(offsets)}`)
  check(errors.length === 0, `page errors: ${errors.join(' | ')}`)
  log(`offsets ${JSON.stringify(offsets)}`)
} catch (e) {
  fail(e.stack || String(e))
} finally {
  await close()
}
console.log(JSON.stringify(seen))
console.log('ok')
