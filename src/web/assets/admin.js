// The config page's live parts: status refresh, level meter, today's and yesterday's
// charts, copy buttons and resumable publishing. The page works without it (forms post
// normally); this only keeps the numbers fresh and sends uploads in chunks.
//
// The script writes no words of its own: the box's state comes already written in the
// page's language from /admin/status (`words`), and the few sentences made here (copy
// buttons, the upload's progress) are templates the page hands over in the header's
// `data-words`, with `{name}` holes.

const $ = (id) => document.getElementById(id)
// Only a changed text is written, so that live regions do not repeat themselves.
const set = (id, text) => {
  const e = $(id)
  if (e && e.textContent !== String(text)) e.textContent = text
}

const WORDS = (() => {
  try { return JSON.parse(document.querySelector('[data-words]')?.dataset.words || '{}') } catch { return {} }
})()
const say = (key, vars = {}) =>
  (WORDS[key] || '').replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m))

// A size as the box writes it (i18n::format::size): decimal units, one decimal from
// megabytes on, the language's decimal mark. (An ordinary space before the unit: the
// upload's status line is read by tests as text.)
function human (bytes) {
  const s = WORDS.size || {}
  const mark = s.mark || '.'
  const dec = (x) => x.toFixed(1).replace('.', mark)
  const fill = (tpl, n) => (tpl || '{n}').replace('{n}', n)
  if (bytes < 1000) return fill(s.b, String(bytes))
  if (bytes < 1e6) return fill(s.kb, String(Math.round(bytes / 1e3)))
  if (bytes < 1e9) return fill(s.mb, dec(bytes / 1e6))
  return fill(s.gb, dec(bytes / 1e9))
}

// A chart of a day from midnight (one point a quarter hour, `null` where the box took no
// sample): yesterday dashed under today. The sentence under it is the server's.
function graph (id, today, yesterday, text) {
  const svg = $(id)
  if (!svg || !today || !yesterday) return
  set(`${id}-text`, text)
  const known = [...today, ...yesterday].filter((v) => v != null)
  const max = Math.max(1, ...known)
  const line = (values, cls) => {
    let d = ''
    let pen = false
    values.forEach((v, i) => {
      if (v == null) { pen = false; return }
      const x = (i * 3 + 1.5).toFixed(1)
      const y = (58 - (v / max) * 54).toFixed(1)
      // A lone point still shows, as a short dash.
      d += pen ? `L${x},${y}` : `M${x},${y}h1`
      pen = true
    })
    const p = document.createElementNS('http://www.w3.org/2000/svg', 'path')
    p.setAttribute('d', d)
    p.setAttribute('class', cls)
    p.setAttribute('vector-effect', 'non-scaling-stroke')
    return p
  }
  svg.replaceChildren(line(yesterday, 'yesterday'), line(today, 'today'))
}

async function refresh () {
  let s
  try {
    const r = await fetch('/admin/status', { cache: 'no-store' })
    if (r.redirected || r.status !== 200) return
    s = await r.json()
  } catch { return }
  const w = s.words || {}
  set('air-state', w.air)
  if ($('air-state') && w.air_look) $('air-state').className = `badge ${w.air_look}`
  set('listeners', s.listeners.total)
  set('listen-ways', w.listen_ways)
  set('p2p', s.p2p_listeners)
  set('uptime', w.uptime)
  set('items', s.items)
  set('peers', s.peers)
  set('upload-rate', w.upload_rate)
  set('room', w.room)
  set('tracker', w.tracker)
  if (w.pushes) set('pushes', w.pushes)
  if (w.update) {
    set('update-state', w.update.text)
    const bar = $('update-bar')
    if (bar) {
      bar.hidden = w.update.progress == null
      bar.value = w.update.progress || 0
    }
  }
  const h = s.hashing
  if ($('hashing')) $('hashing').hidden = !w.hashing
  if (w.hashing && $('hash-bar')) {
    set('hash-text', w.hashing)
    $('hash-bar').value = h.bytes_total ? h.bytes_done / h.bytes_total : 0
  }
  const warn = $('warnings')
  const list = w.warnings || []
  if (warn && [...warn.children].map((p) => p.textContent).join('\n') !== list.join('\n')) {
    warn.replaceChildren(...list.map((t) => { const p = document.createElement('p'); p.textContent = t; return p }))
    warn.hidden = list.length === 0
  }
  set('yesterday', w.yesterday)
  const c = s.chart || {}
  graph('graph-listeners', c.today?.listeners, c.yesterday?.listeners, w.listeners_chart)
  graph('graph-upload', c.today?.upload_bps, c.yesterday?.upload_bps, w.upload_chart)
}

// Peak level in dBFS to a bar: -60 dB empty, 0 dB full; red above -3 dB. The meter's name
// says the levels in words, once a second (more would only chatter).
function meter () {
  const box = $('meter')
  const bars = [$('meter-l'), $('meter-r')]
  if (!box || !bars[0] || !window.EventSource) return
  let named = 0
  const es = new EventSource('/api/live/levels')
  es.addEventListener('levels', (ev) => {
    const l = JSON.parse(ev.data)
    const dbs = bars.map((bar, i) => {
      const db = l.peak_db[Math.min(i, l.peak_db.length - 1)] ?? -90
      bar.style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`
      bar.classList.toggle('hot', db > -3)
      return db
    })
    const now = Date.now()
    if (now - named >= 1000) {
      named = now
      const word = (db) => (db <= -90 ? '−∞' : String(Math.round(db)).replace('-', '−'))
      box.setAttribute('aria-label', say('meter', { left: word(dbs[0]), right: word(dbs[1]) }))
      // In one word: peaks under -40 dB are too quiet for a programme, over -3 dB too loud.
      const peak = Math.max(...dbs)
      set('meter-word', say(peak < -40 ? 'level_quiet' : peak > -3 ? 'level_loud' : 'level_good'))
    }
  })
}

// The Listen button: the station's stream in the page, as listeners get it.
function listen () {
  const b = $('listen')
  if (!b) return
  const start = b.textContent
  let audio = null
  b.addEventListener('click', () => {
    if (audio) {
      audio.pause()
      audio.removeAttribute('src')
      audio.load()
      audio = null
      b.textContent = start
      return
    }
    audio = new Audio(b.dataset.stream)
    audio.play().catch(() => {})
    b.textContent = b.dataset.stop
  })
}

function copyButtons () {
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button.copy')
    if (!b) return
    const before = b.textContent
    try {
      await navigator.clipboard.writeText(b.dataset.copy)
      b.textContent = say('copied')
    } catch {
      // Plain http has no Clipboard API: the address is selected in its field, and copied
      // the old way where the browser still allows it.
      const input = [...document.querySelectorAll('input[readonly]')].find((i) => i.value === b.dataset.copy)
      if (input) {
        input.select()
        let copied = false
        try { copied = document.execCommand('copy') } catch {}
        b.textContent = say(copied ? 'copied' : 'selected')
      }
    }
    setTimeout(() => { b.textContent = before }, 2000)
  })
  // The phone's share sheet (WhatsApp, Telegram, Signal...), where the browser has one.
  for (const b of document.querySelectorAll('button.share-sheet')) {
    if (!navigator.share) continue
    b.hidden = false
    b.addEventListener('click', () => {
      navigator.share({ title: b.dataset.title, url: b.dataset.share }).catch(() => {})
    })
  }
}

const CHUNK = 1024 * 1024

// Sends the file in 1 MiB chunks at the offset the box reports; after a failure it asks
// again and goes on from there, so a dropped connection loses at most one chunk.
async function publish (ev) {
  ev.preventDefault()
  const form = ev.target
  const file = $('upload-file').files[0]
  const bar = $('upload-bar')
  const status = (t) => set('upload-status', t)
  if (!file) return status(say('choose_file'))
  const headers = { 'X-CSRF-Token': form.dataset.csrf }
  const fail = async (r) => {
    try { return (await r.json()).error } catch { return say('error', { status: r.status }) }
  }
  let r = await fetch('/admin/uploads', {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name: file.name,
      size: file.size,
      fingerprint: `${file.name}|${file.size}|${file.lastModified}`,
      title: $('upload-title').value,
      description: $('upload-desc').value
    })
  })
  if (r.status !== 200) return status(await fail(r))
  const created = await r.json()
  const id = created.id
  let received = created.received
  bar.hidden = false
  let retries = 0
  while (received < file.size) {
    bar.value = received / file.size
    status(say('sending', { done: human(received), total: human(file.size) }))
    try {
      r = await fetch(`/admin/uploads/${id}?offset=${received}`, {
        method: 'PUT', headers, body: file.slice(received, received + CHUNK)
      })
      if (r.status === 200 || r.status === 409) {
        const j = await r.json()
        if (j.done) break
        received = j.received
        retries = 0
        continue
      }
      return status(await fail(r))
    } catch {
      retries += 1
      status(say('retry', { n: retries }))
      await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 1000 * retries)))
      try {
        const s = await (await fetch(`/admin/uploads/${id}`)).json()
        received = s.received
      } catch {}
    }
  }
  bar.value = 1
  status(say('published'))
  form.reset()
  refreshEpisodes()
}

// The new episode joins the list once the box has read it (seconds, longer for a long
// file): the list is taken again from the page until it changes, for up to two minutes.
async function refreshEpisodes () {
  const count = (root) => root.querySelectorAll('details.episode').length
  const before = count($('episodes'))
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    try {
      const html = await (await fetch(location.pathname)).text()
      const fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('episodes')
      if (fresh && count(fresh) !== before) return $('episodes').replaceWith(fresh)
    } catch {}
  }
}

// Leaving a page whose form was changed but not saved asks first (the browser's own
// question: it is in the phone's language, and no page can word it).
function guardForms () {
  let dirty = false
  for (const form of document.querySelectorAll('form[data-guard]')) {
    form.addEventListener('input', () => { dirty = true })
    form.addEventListener('submit', () => { dirty = false })
  }
  window.addEventListener('beforeunload', (ev) => {
    if (dirty) ev.preventDefault()
  })
}

copyButtons()
meter()
listen()
guardForms()
$('upload')?.addEventListener('submit', publish)
// Every page of the operator's keeps its figures fresh (the header carries the words).
if (document.querySelector('header[data-words]')) { refresh(); setInterval(refresh, 3000) }
