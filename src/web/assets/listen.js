// The listen page: plays an episode with WebTorrent in the browser, so every listener
// also shares it with the next one, with the station's web seed for what peers cannot
// deliver in time (episode.js).
// `?webseed=0` leaves the web seed out, so bytes can only come from peers over WebRTC.
const cfg = JSON.parse(document.getElementById('config').textContent)
// The episode player and WebTorrent load on the first play, not before the page's buttons
// work: on a slow link a listener may press Play before 200 kB of WebTorrent arrive (the
// page preloads both, or the live player's modules while the live stream is on, which most
// then play). episode.js first: it gives WebTorrent SHA-1 on plain http before
// WebTorrent loads. Both by their content-hashed addresses (src/web/assets.rs).
let manageSources, playMse, playWhole, route, WebTorrent
let loading = null
function loadEpisodes () {
  loading = loading || (async () => {
    ({ manageSources, playMse, playWhole, route } = await import(cfg.assets.episode))
    ;({ default: WebTorrent } = await import(cfg.assets.webtorrent))
  })()
  return loading
}
const params = new URLSearchParams(location.search)
const useWebSeed = params.get('webseed') !== '0'
// `?p2p=0` plays the live stream through hls.js with peer-to-peer off (a baseline).
const useP2P = params.get('p2p') !== '0'
// A phone on mobile data (or asking to save data) takes from other listeners but does not
// upload to them: the listener's plan pays for every byte. `?upload=0` does the same.
const connection = navigator.connection || {}
const uploads = params.get('upload') !== '0' && connection.type !== 'cellular' && !connection.saveData
const player = document.getElementById('player')
const audio = document.getElementById('audio')
const now = document.getElementById('now')
// The status line: a message (announced to screen readers) or running figures (not
// announced: they change every second).
const say = document.getElementById('status-say')
const figures = document.getElementById('status-figures')
const progress = document.getElementById('progress')
const links = { direct: document.getElementById('direct'), magnet: document.getElementById('magnet'), torrent: document.getElementById('torrent') }
// The magnet and torrent links' fold: for an episode only, like the links in it.
const otherApps = document.getElementById('other-apps')

let client = null
// Whether WebTorrent's service worker serves the <audio> element (https, or the box itself).
let served = false
let current = null
let timer = null
// What plays: 'episode' or 'live', for the status line.
let playing = null
// The episode's player and the choice of its sources, stopped when something else plays.
let episode = null

// The page's words, in its language (src/web/page.rs): sentences, and templates whose
// `{name}` slots are filled here. Numbers are written the page language's way.
const words = cfg.words
const lang = document.documentElement.lang
const whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 })
const tenths = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
const percent = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 })

// What is playing: the box says it at once and at each change (server-sent events).
function followNowPlaying () {
  const line = document.getElementById('live-now')
  if (!line || !window.EventSource) return
  const events = new EventSource('/api/nowplaying/events')
  events.onmessage = (e) => {
    let now
    try { now = JSON.parse(e.data) } catch { return }
    const what = now.artist && now.title ? `${now.artist} - ${now.title}` : (now.title || now.show || '')
    line.textContent = what ? fill(words.nowPlaying, { what }) : ''
  }
}

function fill (template, values) {
  return template.replace(/\{(\w+)\}/g, (slot, name) => name in values ? values[name] : slot)
}

// Decimal units, as the page writes sizes (i18n::format::size).
function size (n) {
  if (n < 1e3) return fill(words.sizeB, { n: whole.format(n) })
  if (n < 1e6) return fill(words.sizeKB, { n: whole.format(Math.round(n / 1e3)) })
  if (n < 1e9) return fill(words.sizeMB, { n: tenths.format(n / 1e6) })
  return fill(words.sizeGB, { n: tenths.format(n / 1e9) })
}

function tell (text) {
  figures.textContent = ''
  say.textContent = text
}

function showFigures (text) {
  say.textContent = ''
  figures.textContent = text
}

// Streaming to an <audio> element goes through WebTorrent's service worker where the
// browser allows one (https:// or the box itself); elsewhere episode.js feeds the element
// through Media Source Extensions. Without WebRTC the episode plays from the station.
// Web seeds are never added up front: episode.js adds the station's when peers fall short.
async function startClient () {
  await loadEpisodes()
  if (client) return client
  if (!window.RTCPeerConnection) return null
  let reg = null
  if ('serviceWorker' in navigator && window.isSecureContext) {
    reg = await navigator.serviceWorker.register('/sw.min.js', { scope: '/' })
    const worker = reg.active || reg.waiting || reg.installing
    if (worker.state !== 'activated') {
      await new Promise(resolve => worker.addEventListener('statechange', () => {
        if (worker.state === 'activated') resolve()
      }))
    }
  }
  client = new WebTorrent({ webSeeds: false, tracker: { rtcConfig: { iceServers: cfg.ice } } })
  client.on('error', err => {
    console.warn('WebTorrent:', err)
    tell(words.sharingStopped)
  })
  if (reg) {
    client.createServer({ controller: reg })
    served = true
  }
  window.streamp2p = { ...window.streamp2p, client }
  return client
}

// Drops the `ws=` (web seed) parameters; the rest of the magnet is kept byte for byte,
// since re-encoding it (URLSearchParams would) breaks `xt=urn:btih:...`.
function withoutWebSeed (magnet) {
  const [head, query = ''] = magnet.split('?')
  const kept = query.split('&').filter(p => !p.startsWith('ws='))
  return `${head}?${kept.join('&')}`
}

function showStats (torrent, counters) {
  clearInterval(timer)
  timer = setInterval(() => {
    // Sources are other listeners, the station's WebRTC peer and its web seed.
    const got = counters.fromPeers + counters.fromStation + counters.fromWebSeed
    showFigures(fill(words.stats, {
      sources: whole.format(torrent.numPeers),
      speed: fill(words.rate, { size: size(torrent.downloadSpeed) }),
      loaded: percent.format(torrent.progress),
      share: percent.format(got ? counters.fromPeers / got : 0),
      shared: size(torrent.uploaded)
    }))
    progress.value = torrent.progress
  }, 1000)
}

// Whether the station has lost the episode's file (its USB stick was pulled out, say): the
// station then answers 404 for it.
async function gone (url) {
  try {
    return (await fetch(url, { method: 'HEAD', cache: 'no-store' })).status === 404
  } catch { return false }
}

function sayOffline () {
  clearInterval(timer)
  tell(words.episodeOffline)
}

// While an episode is chosen but does not move (it never started, or waits for data) for a
// few seconds, asks the station whether it still has the file, and says so when it does not.
// Other listeners who have it may still deliver the rest: playback then goes on by itself.
let watch = null
function watchOffline (url) {
  clearInterval(watch)
  let last = -1
  let since = Date.now()
  watch = setInterval(async () => {
    if (playing !== 'episode') return clearInterval(watch)
    const moving = audio.currentTime !== last
    const resting = audio.paused && audio.currentTime > 0
    if (moving || resting) {
      last = audio.currentTime
      since = Date.now()
      return
    }
    if (Date.now() - since < 4000) return
    since = Date.now()
    if (await gone(url) && playing === 'episode' && audio.currentTime === last) sayOffline()
  }, 1000)
}

function stopEpisode () {
  clearInterval(watch)
  clearInterval(timer)
  if (episode) { episode.stop(); episode = null }
  if (current && client) { client.remove(current); current = null }
}

// The status line follows the episode: paused, finished (still shared while the page is
// open), playing again.
audio.addEventListener('pause', () => {
  if (playing !== 'episode' || audio.ended) return
  clearInterval(timer)
  tell(words.episodePaused)
})
audio.addEventListener('ended', () => {
  if (playing !== 'episode') return
  clearInterval(timer)
  tell(words.episodeEnded)
})
// Playing again, or going on after a wait (other listeners delivered what the station no
// longer has): the figures come back.
for (const event of ['play', 'playing']) {
  audio.addEventListener(event, () => {
    if (playing === 'episode' && current && episode) showStats(current, episode.counters)
  })
}

async function play (btn) {
  const ep = btn.dataset
  stopLive()
  // The episode playing stops when another is chosen, even if that one cannot be had.
  if (playing === 'episode') audio.pause()
  playing = 'episode'
  player.hidden = false
  progress.hidden = false
  for (const a of Object.values(links)) a.hidden = false
  if (otherApps) otherApps.hidden = false
  now.textContent = ep.title
  links.direct.href = ep.webseed
  links.magnet.href = ep.magnet
  links.torrent.href = ep.torrent
  tell(words.connecting)
  watchOffline(ep.webseed)
  progress.value = 0
  let c = null
  let failed = false
  try {
    c = await startClient()
  } catch (err) {
    console.warn('no sharing between listeners:', err)
    failed = true
  }
  if (!c) {
    clearInterval(timer)
    audio.src = ep.webseed
    audio.play().catch(() => {})
    tell(failed ? words.noSharing : words.fromStation)
    return
  }
  if (episode) { episode.stop(); episode = null }
  if (current && current.infoHash !== ep.infohash) { c.remove(current); current = null }
  // The .torrent carries the metadata, so playback can start even with no other peer;
  // without the web seed the magnet's metadata comes from peers (BEP 9).
  const source = useWebSeed ? new URL(ep.torrent, location.href).href : withoutWebSeed(ep.magnet)
  const webSeed = useWebSeed ? new URL(ep.webseed, location.href).href : null
  const existing = await c.get(ep.infohash)
  const onTorrent = async torrent => {
    current = torrent
    const file = torrent.files[0]
    const how = served ? { kind: 'sw' } : route(file.name)
    // For tests and benches: bytes by source, and what this page has shared.
    const counters = { route: how.kind, size: file.length, fromPeers: 0, fromStation: 0, fromWebSeed: 0, uploaded: 0, webSeedOn: false }
    window.streamp2p = { ...window.streamp2p, episode: counters }
    let player = null
    const mine = { counters, stop () { stopSources(); if (player) player.stop() } }
    episode = mine
    // The byte the player reads before it plays (its head, or an M4A's moov).
    const reading = { at: 0 }
    const stopSources = manageSources(torrent, audio, { webSeed, player: () => player, reading, counters })
    showStats(torrent, counters)
    try {
      if (how.kind === 'sw') {
        file.streamTo(audio)
        // Bytes at a time, in proportion, once the element knows the length.
        player = {
          stop () {},
          position: t => audio.duration ? t / audio.duration * file.length : 0,
          get bytesPerSecond () { return audio.duration ? file.length / audio.duration : 16000 }
        }
      } else if (how.kind === 'mse') {
        const p = await playMse(file, audio, how.mime, reading)
        if (episode !== mine) return p.stop()
        player = p
        counters.mime = p.mime
      } else {
        tell(words.episodeLoading)
        player = playWhole(torrent, file, audio)
        return
      }
      audio.play().catch(() => {})
    } catch (err) {
      // The station's file plays instead; sharing goes on in the background.
      console.warn('episode player:', err)
      audio.src = ep.webseed
      audio.play().catch(() => {})
    }
  }
  if (existing) return onTorrent(existing)
  // A torrent that cannot be had (its .torrent gone with a pulled stick) fails alone,
  // without taking the page's client with it.
  c.add(source, { announce: [cfg.tracker] }, onTorrent).on('error', async err => {
    console.warn('episode:', err)
    if (await gone(ep.webseed)) sayOffline()
    else tell(words.sharingStopped)
  })
}

// The live stream. With Media Source Extensions (or Safari's ManagedMediaSource), hls.js
// plays the HLS stream and p2p-media-loader fetches its segments from other listeners
// over WebRTC where it can, signalling through the station's own tracker; the station
// serves the rest. Without them the browser's native HLS plays it (iPhones before iOS
// 17.1), and failing that the progressive stream: Ogg Opus (Chrome, Firefox) or MP3.
// `window.streamp2p.live` counts segments by source and peers, for tests and the status.
let hls = null
// How long a page joining other listeners waits for them before asking the station.
const JOIN_WAIT_MS = 2000

// A page that is no seed but takes segment after segment from the station (at their
// deadline: its peers never have them) is stranded: its peers left, time out, or do not
// upload. It joins the swarm again: p2p-media-loader's loader for the stream is made anew,
// whose first announce asks the tracker for a fresh set of peers. Not in its first minute
// (a young swarm spreads slowly, and its first peers take seconds to connect), and at most
// once a minute. A page with one peer or none is the tracker's to help, without dropping
// the peer it has (peerTeller, below).
const STRANDED_AFTER = 4
const REJOIN_EVERY_MS = 60000
function strandedWatch (stats, engine, seeds) {
  let fromStation = 0
  let last = performance.now()
  return source => {
    fromStation = source === 'http' && !seeds() ? fromStation + 1 : 0
    const now = performance.now()
    if (fromStation < STRANDED_AFTER || now - last < REJOIN_EVERY_MS || !(stats.joined > 0 || stats.peers > 0)) return
    fromStation = 0
    last = now
    stats.rejoined += 1
    engine.applyDynamicConfig({ core: { isP2PDisabled: true } })
    engine.applyDynamicConfig({ core: { isP2PDisabled: false } })
  }
}

// The page tells the tracker, on its socket, which listeners it is connected to: WebRTC
// between two homes fails now and then after the tracker paired them, and nothing else
// tells it (in the swarm lab a third of the pairings made while 200 listeners arrived
// never connected; benches/README.md, "Pages the tracker paired that never connected").
// The tracker then forgets the pairings that failed, and asks a page left with one peer
// or none to announce again soon (src/tracker/peers.rs). Told a second after its peers
// change, and every 10 s while it has one or none and takes segments from the station (so
// the tracker sees its new pairings fail too); a few dozen bytes to the station, nothing
// back unless it asks.
const PEERS_ACTION = 'streamp2p-peers'
const TELL_AFTER_MS = 1000
const TELL_LONELY_EVERY_MS = 10000
const LONELY_PEERS = 1
let pageSocket = null
function peerTeller (peers) {
  let timer = null
  let told = -Infinity
  const tell = () => {
    timer = null
    if (pageSocket?.readyState !== PageSocket.OPEN) return
    told = performance.now()
    pageSocket.send(JSON.stringify({ action: PEERS_ACTION, peers: [...peers] }))
  }
  return {
    changed () { timer ??= setTimeout(tell, TELL_AFTER_MS) },
    loaded (source) {
      if (source === 'http' && peers.size <= LONELY_PEERS && performance.now() - told >= TELL_LONELY_EVERY_MS) tell()
    }
  }
}
// The next seconds of audio that must come from the station at once if no listener has
// delivered them (p2p-media-loader's high-demand window): one 2 s segment and the time to
// fetch it. A page the station chose to seed the others (src/live/seeding.rs) takes every
// new segment from the station as soon as it is listed, so its window covers all of them.
const HIGH_DEMAND_S = 3
const SEED_HIGH_DEMAND_S = 60

// The station tells a sharing page its role: it seeds ('1'), it stands in for a seeder and
// takes its place when it leaves ('standby'), or neither ('0'). On the tracker's WebSocket,
// the moment the role changes (below), and in its answers: playlists (hls.js's XHR) and the
// segments p2p-media-loader fetched (window.fetch). A seed or stand-in that has not heard
// from the tracker's socket asks for every playlist, so it learns at once.
const SEED_HEADER = 'streamp2p-seed'
let seedAnswer = () => {}
// Whether the role comes over the tracker's socket, and what to do with it when it does.
let roleByTracker = false
let trackerRole = () => {}

// The live player's tracker address ends in an empty `s=`: its socket is opened with the
// page's session there, and the station ties the socket to the session (src/live/seeding.rs).
// The role comes on it as a tracker message for no swarm, which the tracker client (loaded
// after this) passes over and this reads. When the socket closes, the station knows the page
// has gone.
const PageSocket = window.WebSocket
window.WebSocket = class extends PageSocket {
  constructor (url, ...rest) {
    const u = new URL(url, location.href)
    const token = u.searchParams.get('s') === '' && liveToken()
    if (token) u.searchParams.set('s', token)
    super(token ? u.href : url, ...rest)
    if (!token) return
    pageSocket = this
    this.addEventListener('message', e => {
      let m
      try { m = JSON.parse(e.data) } catch { return }
      if (typeof m?.[SEED_HEADER] === 'string') trackerRole(m[SEED_HEADER])
    })
    this.addEventListener('close', () => {
      roleByTracker = false
      if (pageSocket === this) pageSocket = null
    })
  }
}

// The page's session: the token in its playlists' addresses (src/live/sessions.rs; every
// variant's has the same, and hls.js knows which level plays only once one has).
function liveToken () {
  return hls && new URL(hls.levels?.[0]?.url || location.href, location.href).searchParams.get('s')
}
// The station's answer to one of the page's own live segment requests (playHls sets it).
let segmentAnswer = () => {}
const pageFetch = window.fetch.bind(window)
window.fetch = async (...request) => {
  const response = await pageFetch(...request)
  const seed = response.headers.get(SEED_HEADER)
  if (seed !== null) seedAnswer(seed)
  segmentAnswer(request[0]?.url || String(request[0]), response)
  return response
}

// A page that closes, or stops the live stream, tells the station (src/live/seeding.rs):
// if it seeded, its stand-in takes over now rather than when its silence is noticed.
let sayLeaving = () => {}
window.addEventListener('pagehide', () => sayLeaving())

// What a sharing page tells the station with each live request (src/live/seeding.rs): its
// session (the token of its playlist's address), whether it uploads and how much it has
// passed on, and for a segment how many seconds before it plays it.
function sayWho (url, stats) {
  const u = new URL(url, location.href)
  const token = liveToken()
  if (token) u.searchParams.set('s', token)
  u.searchParams.set('up', uploads ? '1' : '0')
  u.searchParams.set('n', String(stats.uploaded))
  return u
}

// Between two playlists from the station, a page writes its own: the Opus segments last
// exactly 2 s and are numbered in order, so the playlist the station would send at any
// moment follows from the last one it did send and how long ago its newest segment was made
// (the station says, AGE_HEADER) (RFC 8216bis lets a client reload at whatever pace it
// likes). It asks the station again every PLAYLIST_REFRESH_MS, at about 600 bytes, instead
// of every 2 s: the station's upload for telling a listener that a segment exists falls from
// about 2.4 kbit/s to about 0.2. A page whose role comes over the tracker's socket, seeds
// too, asks only every TRACKED_REFRESH_MS: the socket keeps it known to the station, and
// tells it its role. Each ask costs the station about 1 kB with the new connection it takes
// (the station closes connections idle for 15 s), 0.06 kbit/s a page every 2 minutes, 0.025
// every 5; the page's own playlists drift from the station's only as fast as the box's
// sound card clock from the page's clock (parts in a million), or when the station's input
// stalls (a busy box): then its segments come later than the page's clock says. So each
// answer the station gives to a segment request says how long ago that segment was made
// (AGE_HEADER), and the page sets its clock by the newest it heard of (segmentAnswer); the
// station holds a request for the next segment until it exists, and a 404 (the page's list
// more than a segment ahead) has the page ask for the station's playlist, at most every
// RELEARN_AFTER_404_MS. Each guessed segment is listed GUESS_MARGIN_MS after it exists,
// never before; a segment that fails to load (the stream started again, say) makes the
// next playlist the station's.
const PLAYLIST_REFRESH_MS = 30000
const TRACKED_REFRESH_MS = 300000
const RELEARN_AFTER_404_MS = 10000
const GUESS_MARGIN_MS = 500
const AGE_HEADER = 'streamp2p-age'

// `ageHeader`: the station's AGE_HEADER as it came (null without one); anything but a plausible
// age counts as 0.
function learnPlaylist (text, ageHeader) {
  const lines = text.split('\n')
  const head = []
  let first = null
  let skipped = 0
  let listed = 0
  let secs = null
  let uri = null
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]
    if (l.startsWith('#EXT-X-MEDIA-SEQUENCE:')) first = Number(l.slice(22))
    else if (l.startsWith('#EXT-X-SKIP:')) skipped = Number(/SKIPPED-SEGMENTS=(\d+)/.exec(l)?.[1] || 0)
    else if (l.startsWith('#EXTINF:')) {
      const d = parseFloat(l.slice(8))
      if (secs !== null && d !== secs) return null
      secs = d
      uri = lines[i + 1] || ''
      listed += 1
      i += 1
    } else if (l.startsWith('#EXT-X-ENDLIST')) return null
    else if (l.startsWith('#EXT') && l !== '#EXTM3U' && listed === 0) head.push(l)
  }
  const count = skipped + listed
  if (first === null || !Number.isInteger(first) || !listed || secs !== 2 || !/\d+\.m4s$/.test(uri)) return null
  const age = Number(ageHeader)
  const made = Number.isFinite(age) && age >= 0 && age < 60000 ? age : 0
  return { head, end: first + count - 1, count, secs, uri, at: performance.now() - made }
}

// The playlist's own address, without what this page or hls.js added to the request
// (delta and blocking directives, what the page says of itself): p2p-media-loader knows
// the stream by it.
function levelUrl (url) {
  const u = new URL(url, location.href)
  for (const k of ['_HLS_skip', '_HLS_msn', '_HLS_part', 'up', 'n']) u.searchParams.delete(k)
  return u.href
}

// The station's answer to live segment `url`: a page that lists segments itself sets its
// clock by the segment's age, if it is the newest it knows of (an older one was made before
// any stall since), or asks for a playlist after a 404.
function setClock (url, response, learned, stats) {
  const sn = segmentNumber(url)
  const last = learned.last
  if (!Number.isInteger(sn) || !last) return
  const now = performance.now()
  if (response.status === 404) {
    if (now - learned.relearnt >= RELEARN_AFTER_404_MS && hls?.levels?.[hls.currentLevel]?.url) {
      learned.relearnt = now
      relearn(hls.levels[hls.currentLevel].url, stats, learned)
    }
    return
  }
  const age = Number(response.headers.get(AGE_HEADER) ?? NaN)
  if (sn < last.end || !Number.isFinite(age) || age < 0 || age >= 60000) return
  learned.last = { ...last, end: sn, at: now - age }
}

function guessPlaylist (last, now) {
  const more = Math.max(0, Math.floor((now - last.at - GUESS_MARGIN_MS) / (last.secs * 1000)))
  const end = last.end + more
  const lines = ['#EXTM3U', ...last.head, `#EXT-X-MEDIA-SEQUENCE:${end - last.count + 1}`]
  for (let sn = end - last.count + 1; sn <= end; sn++) {
    lines.push(`#EXTINF:${last.secs.toFixed(3)},`, last.uri.replace(/\d+(\.m4s)$/, `${sn}$1`))
  }
  return lines.join('\n') + '\n'
}

// hls.js's loader (p2p-media-loader's playlist loader wraps it), answering the Opus
// playlist itself and asking the station for one every `refresh()` ms (0: a seed or
// stand-in whose role does not come over the tracker's socket must hear it in every
// playlist, through hls.js). `learned.last` is the station's last playlist; null asks
// hls.js for the next. Once a page has one, it asks for the next beside hls.js (relearn):
// a slow answer from the station (a home uplink full of uploads holds the request back)
// does not stop the page listing the new segments meanwhile. Segments go through
// p2p-media-loader, not here.
function playlistLoader (Base, live, refresh, learned) {
  return class extends Base {
    loadInternal () {
      const { context, callbacks } = this
      if (!context || !callbacks) return
      const opus = context.type === 'level' && /\/opus\.m3u8/.test(context.url)
      if (!opus || !useP2P) return super.loadInternal()
      const now = performance.now()
      const last = learned.last
      const every = refresh()
      if (last && every > 0) {
        if (now - last.at >= every) relearn(context.url, live, learned)
        const text = guessPlaylist(last, now)
        const st = this.stats
        st.loading.first = st.loading.end = now
        st.loaded = st.total = text.length
        live.playlists.guessed += 1
        setTimeout(() => {
          if (!this.guessDropped) this.callbacks?.onSuccess({ url: levelUrl(context.url), data: text }, st, context, null)
        }, 0)
        return
      }
      live.playlists.station += 1
      if (!this.learns) {
        this.learns = true
        const { onSuccess } = callbacks
        callbacks.onSuccess = (response, st, ctx, net) => {
          if (typeof response.data === 'string') learned.last = learnPlaylist(response.data, net?.getResponseHeader?.(AGE_HEADER))
          onSuccess({ ...response, url: levelUrl(response.url || context.url) }, st, ctx, net)
        }
      }
      super.loadInternal()
    }

    abortInternal () {
      this.guessDropped = true
      super.abortInternal()
    }
  }
}

// Asks the station for the Opus playlist (one request at a time) and learns from it.
async function relearn (url, live, learned) {
  if (learned.asking) return
  learned.asking = true
  live.playlists.station += 1
  try {
    // A delta update: the page keeps counting the older segments from its last one.
    const u = sayWho(levelUrl(url), live)
    u.searchParams.set('_HLS_skip', 'YES')
    const response = await window.fetch(u.href, { cache: 'no-store' })
    const text = response.ok ? await response.text() : ''
    learned.last = learnPlaylist(text, response.headers.get(AGE_HEADER)) || learned.last
  } catch {
    // The next playlist hls.js asks for asks again.
  } finally {
    learned.asking = false
  }
}

// A live Opus segment's number from its address; NaN for any other address.
function segmentNumber (url) {
  try {
    return Number(/\/live\/opus\/(\d+)\.m4s$/.exec(new URL(url, location.href).pathname)?.[1])
  } catch {
    return NaN
  }
}

function dueIn (url) {
  const sn = segmentNumber(url)
  const frag = hls?.levels?.[hls.currentLevel]?.details?.fragments?.find(f => f.sn === sn)
  return frag ? frag.start - audio.currentTime : null
}

function stopLive () {
  sayLeaving()
  sayLeaving = () => {}
  if (hls) { hls.destroy(); hls = null }
  seedAnswer = () => {}
  segmentAnswer = () => {}
  trackerRole = () => {}
}

function playProgressive () {
  stopLive()
  const ogg = audio.canPlayType('audio/ogg; codecs=opus') !== ''
  audio.src = ogg ? '/live.ogg' : '/live.mp3'
  tell(words.liveFromStation)
  audio.play().catch(() => {})
}

function showLiveStats (stats) {
  if (playing !== 'live') return
  const total = stats.segments.http + stats.segments.p2p
  const share = total ? stats.segments.p2p / total : 0
  showFigures(fill(words.liveStats, {
    peers: whole.format(stats.peers),
    share: percent.format(share),
    shared: size(stats.uploaded)
  }))
}

async function playHls (live) {
  const [{ default: Hls }, { HlsJsP2PEngine }] = await Promise.all([
    import(cfg.assets.hls),
    import(cfg.assets.p2pmlHlsjs)
  ])
  if (!Hls.isSupported()) return false
  const stats = { segments: { http: 0, p2p: 0 }, bytes: { http: 0, p2p: 0 }, peers: 0, uploaded: 0, variant: null, joined: null, seeds: false, standsIn: false, rejoined: 0, uploads, playlists: { station: 0, guessed: 0 }, told: 0, behind: null }
  window.streamp2p = { ...window.streamp2p, live: stats }
  if (useP2P) sayLeaving = () => navigator.sendBeacon(sayWho('/live/leave', stats).href)
  const HlsWithP2P = HlsJsP2PEngine.injectMixin(Hls)
  let seeds = false
  // The station's last Opus playlist, which the page's own follow from (playlistLoader).
  const learned = { last: null, asking: false, relearnt: -Infinity }
  let standsIn = false
  seedAnswer = role => {
    standsIn = stats.standsIn = role === 'standby'
    const now = role === '1'
    if (now === seeds || !hls?.p2pEngine) return
    seeds = now
    stats.seeds = seeds
    hls.p2pEngine.applyDynamicConfig({ core: { highDemandTimeWindow: seeds ? SEED_HIGH_DEMAND_S : HIGH_DEMAND_S } })
  }
  segmentAnswer = (url, response) => setClock(url, response, learned, stats)
  trackerRole = role => {
    roleByTracker = true
    stats.told += 1
    seedAnswer(role)
  }
  hls = new HlsWithP2P({
    loader: playlistLoader(Hls.DefaultConfig.loader, stats, () => {
      if (roleByTracker) return TRACKED_REFRESH_MS
      return seeds || standsIn ? 0 : PLAYLIST_REFRESH_MS
    }, learned),
    // The media playlist's answer says whether this page seeds the others.
    xhrSetup (xhr, url) {
      if (!useP2P || !/\/opus\.m3u8/.test(url)) return
      xhr.open('GET', sayWho(url, stats).href, true)
      xhr.addEventListener('readystatechange', () => {
        if (xhr.readyState !== XMLHttpRequest.HEADERS_RECEIVED) return
        const seed = xhr.getResponseHeader(SEED_HEADER)
        if (seed !== null) seedAnswer(seed)
      })
    },
    // About 10 s behind the live edge: the newest segments have time to travel between
    // listeners before they are needed.
    liveSyncDurationCount: 5,
    // A live stream has no end: the player shows no duration or seek bar to a fixed end.
    liveDurationInfinity: true,
    p2p: {
      core: {
        // The empty `s=` is the page's session when the socket opens (PageSocket, above).
        announceTrackers: [`${cfg.tracker}?s=`],
        // A fixed swarm id instead of the playlist URL, so listeners who reach the box
        // by different names share, and the tracker knows the swarms (src/live/p2p.rs).
        swarmId: live.swarmId,
        isP2PDisabled: !useP2P,
        isP2PUploadDisabled: !uploads,
        rtcConfig: { iceServers: cfg.ice },
        highDemandTimeWindow: HIGH_DEMAND_S,
        // Each segment request says who asks and how soon it is needed: the station may
        // refuse an early one that other listeners can give (a 503), and the page then
        // waits for them; one due within seconds is always served.
        httpRequestSetup (url, byteRange, signal, requestByteRange) {
          const u = sayWho(url, stats)
          const due = dueIn(url)
          if (due !== null) u.searchParams.set('due', due.toFixed(1))
          const range = requestByteRange || byteRange
          const headers = range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}
          return new Request(u.href, { headers, signal })
        }
      },
      onHlsJsCreated (h) {
        const engine = h.p2pEngine
        const stranded = strandedWatch(stats, engine, () => seeds)
        // Peers by id: p2p-media-loader tells a closing peer twice (once as it closes it,
        // again when the connection says it closed), so a count would fall twice as fast.
        const peers = new Set()
        const teller = peerTeller(peers)
        engine.addEventListener('onSegmentLoaded', d => {
          stranded(d.downloadSource)
          teller.loaded(d.downloadSource)
          stats.segments[d.downloadSource] += 1
          stats.bytes[d.downloadSource] += d.bytesLength
          showLiveStats(stats)
        })
        engine.addEventListener('onPeerConnect', p => {
          peers.add(p.peerId)
          stats.peers = peers.size
          teller.changed()
        })
        engine.addEventListener('onPeerClose', p => {
          if (!peers.delete(p.peerId)) return
          stats.peers = peers.size
          teller.changed()
        })
        engine.addEventListener('onChunkUploaded', n => { stats.uploaded += n })
      }
    }
  })
  // Every listener plays the same variant, so they are all in one swarm: Opus where
  // the browser's MSE plays it (hls.js leaves out the variants it cannot play).
  hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
    const opus = data.levels.findIndex(l => l.audioCodec === 'opus')
    const level = opus >= 0 ? opus : 0
    hls.currentLevel = level
    stats.variant = opus >= 0 ? 'opus' : 'mp3'
  })
  // A page that joins other listeners waits up to 2 s for them before asking the station
  // for a segment, so its first segments come from them: that start-up burst was most of
  // what the station sent each new listener (benches/README.md, "Live"). The master
  // playlist says how many pages share now; alone, a page has nobody to wait for.
  hls.on(Hls.Events.MANIFEST_LOADED, (_, data) => {
    const sharing = Number(data.sessionData?.['org.streamp2p.sharing']?.VALUE)
    stats.joined = sharing
    if (useP2P && sharing > 0) {
      hls.p2pEngine.applyDynamicConfig({ core: { httpDownloadInitialTimeoutMs: JOIN_WAIT_MS } })
    }
  })
  hls.on(Hls.Events.FRAG_BUFFERED, () => {
    // Seconds behind the live edge the page knows of, for the swarm lab.
    stats.behind = hls.latency
    if (playing !== 'live') return
    if (!stats.segments.http && !stats.segments.p2p) tell(words.livePlaying)
  })
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (data.details === Hls.ErrorDetails.FRAG_LOAD_ERROR) learned.last = null
    if (!data.fatal) return
    console.warn('live player:', data.details)
    playProgressive()
    tell(words.liveFallback)
  })
  // ManagedMediaSource (Safari) only plays while remote playback (AirPlay) is off.
  if (window.ManagedMediaSource) audio.disableRemotePlayback = true
  hls.loadSource(live.playlist)
  hls.attachMedia(audio)
  tell(words.liveConnecting)
  audio.play().catch(() => {})
  return true
}

async function playLive () {
  stopEpisode()
  stopLive()
  playing = 'live'
  player.hidden = false
  now.textContent = document.querySelector('.live .title')?.textContent || ''
  for (const a of Object.values(links)) a.hidden = true
  if (otherApps) otherApps.hidden = true
  progress.hidden = true
  const live = cfg.live
  if (live && (window.MediaSource || window.ManagedMediaSource)) {
    try {
      if (await playHls(live)) return
    } catch (err) {
      // The fallbacks below say what plays.
      console.warn('live player unavailable:', err)
    }
  }
  if (live && audio.canPlayType('application/vnd.apple.mpegurl') !== '') {
    audio.src = live.playlist
    tell(words.liveFromStation)
    audio.play().catch(() => {})
    return
  }
  playProgressive()
}

const liveButton = document.getElementById('live-play')
if (liveButton) liveButton.addEventListener('click', playLive)
followNowPlaying()

for (const btn of document.querySelectorAll('button[data-infohash]')) {
  btn.addEventListener('click', () => play(btn))
}
