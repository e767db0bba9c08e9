// The listen page: plays an episode with WebTorrent in the browser, so every listener
// also shares it with the next one, with the station's web seed as fallback.
// `?webseed=0` leaves the web seed out, so bytes can only come from peers over WebRTC.
import WebTorrent from '/assets/webtorrent.min.js'

const cfg = JSON.parse(document.getElementById('config').textContent)
const params = new URLSearchParams(location.search)
const useWebSeed = params.get('webseed') !== '0'
const player = document.getElementById('player')
const audio = document.getElementById('audio')
const now = document.getElementById('now')
const status = document.getElementById('status')
const progress = document.getElementById('progress')
const links = { direct: document.getElementById('direct'), magnet: document.getElementById('magnet'), torrent: document.getElementById('torrent') }

let client = null
let current = null
let timer = null

function size (n) {
  if (n < 1e6) return `${Math.round(n / 1e3)} kB`
  return `${(n / 1e6).toFixed(1)} MB`
}

// Streaming to an <audio> element goes through WebTorrent's service worker, which a
// browser only allows on https:// or on the box itself. Elsewhere the episode plays
// from the station directly.
async function startClient () {
  if (client) return client
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null
  const reg = await navigator.serviceWorker.register('/sw.min.js', { scope: '/' })
  const worker = reg.active || reg.waiting || reg.installing
  if (worker.state !== 'activated') {
    await new Promise(resolve => worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve()
    }))
  }
  client = new WebTorrent({ tracker: { rtcConfig: { iceServers: cfg.ice } } })
  client.on('error', err => { status.textContent = `Sharing stopped: ${err.message || err}` })
  client.createServer({ controller: reg })
  window.streamp2p = { client }
  return client
}

// Drops the `ws=` (web seed) parameters; the rest of the magnet is kept byte for byte,
// since re-encoding it (URLSearchParams would) breaks `xt=urn:btih:...`.
function withoutWebSeed (magnet) {
  const [head, query = ''] = magnet.split('?')
  const kept = query.split('&').filter(p => !p.startsWith('ws='))
  return `${head}?${kept.join('&')}`
}

function showStats (torrent) {
  clearInterval(timer)
  timer = setInterval(() => {
    // Sources are the station's web seed and other listeners.
    const n = torrent.numPeers
    const who = n === 1 ? '1 source' : `${n} sources`
    status.textContent = `${who} · ${size(torrent.downloadSpeed)}/s · ${Math.round(torrent.progress * 100)}% loaded · shared ${size(torrent.uploaded)}`
    progress.value = torrent.progress
  }, 1000)
}

async function play (btn) {
  const ep = btn.dataset
  player.hidden = false
  progress.hidden = false
  for (const a of Object.values(links)) a.hidden = false
  now.textContent = ep.title
  links.direct.href = ep.webseed
  links.magnet.href = ep.magnet
  links.torrent.href = ep.torrent
  status.textContent = 'Connecting…'
  progress.value = 0
  let c = null
  try {
    c = await startClient()
  } catch (err) {
    status.textContent = `Peer-to-peer unavailable (${err.message || err}); playing from the station.`
  }
  if (!c) {
    clearInterval(timer)
    audio.src = ep.webseed
    audio.play().catch(() => {})
    if (!status.textContent.startsWith('Peer')) status.textContent = 'Playing from the station.'
    return
  }
  if (current && current.infoHash !== ep.infohash) c.remove(current)
  // The .torrent carries the metadata and the web seed, so playback can start even with
  // no other peer; without the web seed the magnet's metadata comes from peers (BEP 9).
  const source = useWebSeed ? new URL(ep.torrent, location.href).href : withoutWebSeed(ep.magnet)
  const existing = await c.get(ep.infohash)
  const onTorrent = torrent => {
    current = torrent
    torrent.files[0].streamTo(audio)
    audio.play().catch(() => {})
    showStats(torrent)
  }
  if (existing) onTorrent(existing)
  else c.add(source, { announce: [cfg.tracker] }, onTorrent)
}

// The live stream: Ogg Opus where the browser plays it (Chrome, Firefox), else MP3.
function playLive () {
  clearInterval(timer)
  if (current && client) { client.remove(current); current = null }
  player.hidden = false
  now.textContent = 'Live'
  for (const a of Object.values(links)) a.hidden = true
  progress.hidden = true
  const ogg = audio.canPlayType('audio/ogg; codecs=opus') !== ''
  audio.src = ogg ? '/live.ogg' : '/live.mp3'
  status.textContent = 'Playing the live stream from the station.'
  audio.play().catch(() => {})
}

const liveButton = document.getElementById('live-play')
if (liveButton) liveButton.addEventListener('click', playLive)

for (const btn of document.querySelectorAll('button[data-infohash]')) {
  btn.addEventListener('click', () => play(btn))
}
