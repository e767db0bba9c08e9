// The config page's live parts: status refresh, level meter, 24-hour graphs, copy buttons
// and resumable publishing. The page works without it (forms post normally); this only
// keeps the numbers fresh and sends uploads in chunks.

const $ = (id) => document.getElementById(id)
const set = (id, text) => { const e = $(id); if (e) e.textContent = text }

function human (bytes) {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1048576) return `${(bytes / 1024).toFixed(0)} kB`
  if (bytes < 1073741824) return `${(bytes / 1048576).toFixed(1)} MB`
  return `${(bytes / 1073741824).toFixed(2)} GB`
}

function since (secs) {
  const d = Math.floor(secs / 86400)
  const h = Math.floor(secs / 3600) % 24
  const m = Math.floor(secs / 60) % 60
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`
}

// A small line graph of `values` in an SVG of 300x60, with the peak written beside it.
function graph (id, values, unit) {
  const svg = $(id)
  if (!svg) return
  if (values.length < 2) {
    svg.innerHTML = '<text x="150" y="34" text-anchor="middle" font-size="12">' +
      'Collecting: a point a minute</text>'
    return
  }
  const peak = Math.max(...values)
  const max = Math.max(1, peak)
  const step = 300 / (values.length - 1)
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(58 - (v / max) * 54).toFixed(1)}`)
  svg.innerHTML = `<polyline fill="none" stroke="currentColor" stroke-width="2" points="${pts.join(' ')}"/>` +
    `<text x="296" y="12" text-anchor="end" font-size="11">peak ${Math.round(peak)}${unit}</text>`
}

const STATES = { on_air: 'On air', starting: 'Starting', no_input: 'No input', off: 'No live input set' }

async function refresh () {
  let s
  try {
    const r = await fetch('/admin/status', { cache: 'no-store' })
    if (r.redirected || r.status !== 200) return
    s = await r.json()
  } catch { return }
  const state = s.live.state
  set('air-state', STATES[state] || state)
  $('air-state')?.classList.toggle('off', state !== 'on_air')
  set('listeners', s.listeners.total)
  set('listen-ways', s.listen_ways)
  set('p2p', s.p2p_listeners)
  set('uptime', since(s.uptime_secs))
  set('items', s.items)
  set('peers', s.peers)
  set('upload-rate', `${human(s.upload_bps)}/s`)
  set('tracker', `${s.tracker.swarms} torrents, ${s.tracker.peers} peers`)
  const h = s.hashing
  const hashing = h.files_total > 0 && h.files_done < h.files_total
  if ($('hashing')) $('hashing').hidden = !hashing
  if (hashing) {
    set('hash-text', `${h.files_done} of ${h.files_total} files (${human(h.bytes_done)} of ${human(h.bytes_total)})`)
    $('hash-bar').value = h.bytes_total ? h.bytes_done / h.bytes_total : 0
  }
  const w = $('warnings')
  if (w) {
    w.replaceChildren(...s.warnings.map((t) => { const p = document.createElement('p'); p.textContent = t; return p }))
    w.hidden = s.warnings.length === 0
  }
  graph('graph-listeners', s.history.map((x) => x.listeners), '')
  graph('graph-upload', s.history.map((x) => x.upload_bps / 1000), ' kB/s')
}

// Peak level in dBFS to a bar: -60 dB empty, 0 dB full; red above -3 dB.
function meter () {
  const bars = [$('meter-l'), $('meter-r')]
  if (!bars[0] || !window.EventSource) return
  const es = new EventSource('/api/live/levels')
  es.addEventListener('levels', (ev) => {
    const l = JSON.parse(ev.data)
    bars.forEach((bar, i) => {
      const db = l.peak_db[Math.min(i, l.peak_db.length - 1)] ?? -90
      bar.style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`
      bar.classList.toggle('hot', db > -3)
    })
  })
}

function copyButtons () {
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button.copy')
    if (!b) return
    try {
      await navigator.clipboard.writeText(b.dataset.copy)
      b.textContent = 'Copied'
    } catch {
      const input = b.parentElement.querySelector('input')
      if (input) { input.select(); b.textContent = 'Selected: copy it' }
    }
    setTimeout(() => { b.textContent = 'Copy' }, 2000)
  })
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
  if (!file) return status('Choose a file first.')
  const headers = { 'X-CSRF-Token': form.dataset.csrf }
  const fail = async (r) => { try { return (await r.json()).error } catch { return `error ${r.status}` } }
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
    status(`Sending: ${human(received)} of ${human(file.size)}`)
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
      status(`Connection lost; trying again (${retries})…`)
      await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 1000 * retries)))
      try {
        const s = await (await fetch(`/admin/uploads/${id}`)).json()
        received = s.received
      } catch {}
    }
  }
  bar.value = 1
  status('Published. The box is preparing it for sharing; it appears in the list in a minute.')
  form.reset()
}

copyButtons()
meter()
$('upload')?.addEventListener('submit', publish)
if ($('air')) { refresh(); setInterval(refresh, 3000) }
