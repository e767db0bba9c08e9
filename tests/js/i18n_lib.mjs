// What the language tests share: Debian's Chromium as a phone in a given locale, axe-core's
// WCAG 2.1 A/AA rules on a page, and a layout check (no sideways scroll, no text out of its
// box or cut off, touch targets of 44 px) run inside the page.

import { chromium } from 'playwright-core'
import { AxeBuilder } from '@axe-core/playwright'

/** The languages the box speaks, in the switch's order. */
export const LANGS = ['es', 'ca', 'eu', 'gl', 'pt', 'fr', 'en']

/** The two phones every page must fit: a common one and the smallest still sold. */
export const PHONES = [{ width: 390, height: 844 }, { width: 320, height: 568 }]

/** The axe-core rule sets the issue names: WCAG 2.0 and 2.1, levels A and AA. */
export const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']

/** Debian's Chromium (never a downloaded browser), quiet on a closed network. */
export function launch (extraArgs = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs
    ]
  })
}

/** A phone's browser context: touch, 1x pixels (the checks need no more), `locale` sets
 * both navigator.language and the Accept-Language header. */
export function phoneContext (browser, { locale = 'es-ES', width = 390, height = 844 } = {}) {
  return browser.newContext({
    viewport: { width, height },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 1,
    locale
  })
}

/** Makes the box answer in `lang` (the language switch's own cookie) from now on. */
export async function chooseLanguage (context, base, lang) {
  await context.addCookies([{ name: 'sp2p_lang', value: lang, url: base }])
}

/** axe-core's WCAG 2.1 A/AA violations of the page as it is, briefly: rule, impact and the
 * elements (their selectors). */
// The first run on `page` (already at /admin), one question a screen: the language (the one
// the page already speaks), the station's name, the password twice, then the dashboard.
export async function firstRun (page, password, name) {
  await Promise.all([page.waitForURL(/step=name/), page.click('ul.choices a[aria-current="true"]')])
  await page.fill('input[name=station_name]', name)
  await Promise.all([page.waitForURL(/step=password/), page.click('form[action="/admin"] button[type=submit]')])
  await page.fill('input[name=password]', password)
  await page.fill('input[name=password2]', password)
  await Promise.all([page.waitForNavigation(), page.click('form[action="/admin/setup"] button[type=submit]')])
  // Its next steps (the sound input, how listeners reach the box), taken as they are.
  for (let step = 0; step < 3 && await page.locator('#welcome a.button').count(); step++) {
    await Promise.all([page.waitForNavigation(), page.click('#welcome a.button')])
  }
}

export async function axe (page) {
  const r = await new AxeBuilder({ page }).withTags(WCAG).analyze()
  return r.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => n.target.join(' '))
  }))
}

/** The layout problems of the page at its current size, each a line of text. Run as is, then
 * again with every `<details>` open (the language switch's list, folded sections). */
export async function layout (page) {
  const problems = await page.evaluate(layoutInPage)
  const opened = await page.evaluate(() => {
    const closed = [...document.querySelectorAll('details:not([open])')]
    closed.forEach((d) => { d.open = true; d.dataset.i18nTestOpened = '1' })
    return closed.length
  })
  if (opened > 0) {
    for (const p of await page.evaluate(layoutInPage)) {
      if (!problems.includes(p)) problems.push(`(details open) ${p}`)
    }
    await page.evaluate(() => document.querySelectorAll('details[data-i18n-test-opened]').forEach((d) => { d.open = false; delete d.dataset.i18nTestOpened }))
  }
  return problems
}

// Runs inside the page: everything a person would see as broken on a small screen.
function layoutInPage () {
  const out = []
  const W = window.innerWidth
  const de = document.documentElement
  if (de.scrollWidth > W) out.push(`the page scrolls sideways: scrollWidth ${de.scrollWidth} > ${W}`)
  const name = (el) => {
    let s = el.tagName.toLowerCase()
    if (el.id) s += `#${el.id}`
    if (typeof el.className === 'string' && el.className.trim()) s += `.${el.className.trim().split(/\s+/).join('.')}`
    return s
  }
  const where = (el) => {
    const parts = []
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) parts.unshift(name(e))
    return parts.join(' > ')
  }
  const style = (el) => getComputedStyle(el)
  const shown = (el) => el.getClientRects().length > 0 && style(el).visibility !== 'hidden'
  // The box that holds an element's text: itself, unless it is inline (then its nearest
  // non-inline ancestor).
  const boxOf = (el) => {
    let e = el
    while (e.parentElement && ['inline', 'contents'].includes(style(e).display)) e = e.parentElement
    return e
  }
  // Text meant only for screen readers lives in a 1 px clipped box: cut off by design.
  const screenReaderOnly = (el) => {
    for (let e = el; e && e !== de; e = e.parentElement) {
      const r = e.getBoundingClientRect()
      const s = style(e)
      if ((r.width <= 1 || r.height <= 1) && s.overflow !== 'visible') return true
      if (s.clip && s.clip !== 'auto') return true
    }
    return false
  }
  // Inside a box that scrolls sideways on purpose (a long address in a scrolling code box),
  // text past the edge can be reached.
  const inScroller = (el) => {
    for (let e = el; e && e !== document.body && e !== de; e = e.parentElement) {
      const o = style(e).overflowX
      if (o === 'auto' || o === 'scroll') return true
    }
    return false
  }
  const skip = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT', 'TITLE', 'OPTION', 'OPTGROUP', 'SELECT', 'TEXTAREA', 'DATALIST'])
  const seen = new Set()
  for (const el of document.body.querySelectorAll('*')) {
    if (skip.has(el.tagName) || el.closest('select, datalist, svg')) continue
    const texts = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim())
    if (texts.length === 0 || !shown(el) || screenReaderOnly(el)) continue
    const box = boxOf(el)
    const b = box.getBoundingClientRect()
    const bs = style(box)
    const label = `${where(el)} "${el.textContent.trim().replace(/\s+/g, ' ').slice(0, 40)}"`
    const say = (what) => {
      const line = `${what}: ${label}`
      if (!seen.has(line)) { seen.add(line); out.push(line) }
    }
    // Text cut off by its own box: it hides what does not fit (sideways or below).
    if (['hidden', 'clip'].includes(bs.overflowX) && box.scrollWidth > box.clientWidth + 1) {
      say(`text cut off sideways (${box.scrollWidth} > ${box.clientWidth} px)`)
    }
    if (['hidden', 'clip'].includes(bs.overflowY) && box.scrollHeight > box.clientHeight + 1) {
      say(`text cut off below (${box.scrollHeight} > ${box.clientHeight} px)`)
    }
    if (inScroller(el)) continue
    // Text spilling out of its box or off the screen: each line's own rectangle.
    for (const t of texts) {
      const range = document.createRange()
      range.selectNodeContents(t)
      for (const r of range.getClientRects()) {
        if (r.width === 0) continue
        if (r.right > W + 1 || r.left < -1) {
          say(`text runs off the screen (${Math.round(r.left)}..${Math.round(r.right)} of ${W} px)`)
        } else if (r.right > b.right + 1 || r.left < b.left - 1) {
          say(`text sticks out of its box (${Math.round(r.left)}..${Math.round(r.right)} vs ${Math.round(b.left)}..${Math.round(b.right)})`)
        }
      }
    }
  }
  // Touch targets: a thumb needs 44 CSS px (WCAG 2.5.5); links inside running text are exempt.
  const targets = document.querySelectorAll(
    'button, summary, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), nav a, details.lang a')
  for (const el of targets) {
    if (!shown(el) || screenReaderOnly(el)) continue
    const r = el.getBoundingClientRect()
    if (r.height < 43.5) out.push(`touch target ${Math.round(r.height)} px tall: ${where(el)} "${(el.textContent || el.value || el.name || '').trim().slice(0, 30)}"`)
  }
  return out
}

/** Checks the page at both phone sizes (layout) and at the first (axe); returns the
 * problems found, each `{ page, lang, kind, detail }`. */
export async function checkPage (page, what, lang, { axeToo = true } = {}) {
  const found = []
  for (const size of PHONES) {
    await page.setViewportSize(size)
    for (const p of await layout(page)) found.push({ page: what, lang, kind: `layout ${size.width}x${size.height}`, detail: p })
  }
  await page.setViewportSize(PHONES[0])
  if (axeToo) {
    for (const v of await axe(page)) found.push({ page: what, lang, kind: 'axe', detail: `${v.id} (${v.impact}): ${v.help}; ${v.nodes.join(' | ')}` })
  }
  return found
}
