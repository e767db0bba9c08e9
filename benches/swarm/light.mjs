// The swarm lab's lighter listener (benches/swarm/lab.py --light): one home's listeners in one
// Node.js process, each a p2p-media-loader core (the same package and version the listen page
// embeds) on node-datachannel's WebRTC, the stack a Chromium listener runs, without a browser.
// What the listen page's player does around the core is done here the same way: hls.js's live
// playlist reloads (every target duration, `_HLS_skip=YES` once the station offers deltas),
// the page's own playlists between two of the station's (listen.js: learnPlaylist,
// guessPlaylist), the start 5 segments behind the edge, buffering at most 4 s ahead (what
// p2p-media-loader's hls.js engine sets), what each live request says of the listener
// (sayWho, dueIn), the seed header, the role on the tracker's socket (PageSocket) and the
// station's next playlist asked for beside the guessing (relearn). The audio element is a
// clock: it plays while the segment under the playhead is loaded and counts a stall when it
// is not.
// The lab checks this listener against Chromium on the same swarm (benches/README.md).
//   node light.mjs --base=URL --plan='[{"join":0,"leave":90,"upload":true},...]' --seconds=S
// Prints `result [...]` in home.mjs's format.

import * as wrtc from 'webrtc-polyfill'
import WebSocket from 'ws'
import { log, sleep } from '../../tests/js/lib.mjs'
import { homeArgs } from './home-args.mjs'

// A listener that cannot go on fails alone (lib.mjs's check ends the process).
function need (cond, reason) {
  if (!cond) throw new Error(reason)
}

const { base, plan, seconds } = homeArgs('swarm lab light home')

// How long this process's event loop stood still lately (the lab's machine at full CPU
// starves the niced homes): a fetch that timed out while the loop stood still for seconds
// timed out here, not on the wire.
const loopGaps = []
let loopAt = performance.now()
setInterval(() => {
  const now = performance.now()
  loopGaps.push([now, now - loopAt])
  while (loopGaps.length && loopGaps[0][0] < now - 60000) loopGaps.shift()
  loopAt = now
}, 100).unref()
const longestStill = () => Math.round(Math.max(0, ...loopGaps.map(([, gap]) => gap)))

// The figures listen.js uses (src/web/assets/listen.js), and hls.js's.
const JOIN_WAIT_MS = 2000
const HIGH_DEMAND_S = 3
const SEED_HIGH_DEMAND_S = 60
const SEED_HEADER = 'streamp2p-seed'
const PLAYLIST_REFRESH_MS = 30000
const TRACKED_REFRESH_MS = 300000
const GUESS_MARGIN_MS = 500
const RELEARN_AFTER_404_MS = 10000
const AGE_HEADER = 'streamp2p-age'
// LIVE_SYNC in the environment tries another (a lab experiment, not the page).
const STRANDED_AFTER = 4
const REJOIN_EVERY_MS = 60000
// listen.js's peerTeller: the page's peers, told to the tracker on its socket a second
// after they change and every 10 s while it has one or none and takes segments from the
// station.
const PEERS_ACTION = 'streamp2p-peers'
const TELL_AFTER_MS = 1000
const TELL_LONELY_EVERY_MS = 10000
const LONELY_PEERS = 1
const LIVE_SYNC_SEGMENTS = Number(process.env.LIVE_SYNC || 5)
const TICK_MS = 250

// p2p-media-loader's core as the listen page gets it (the bundle, with its own
// bittorrent-tracker and simple-peer) is written for a page: it takes WebRTC, WebSocket,
// fetch and timers from `window`, and reads navigator and location. node-datachannel's
// WebRTC and the `ws` WebSocket stand in for the browser's.
globalThis.window = globalThis
globalThis.navigator ??= { userAgent: 'streamp2p-swarm-lab' }
globalThis.location = new URL(base)
// The live player's tracker socket carries the listener's session (`s=` in its address) and
// the station's word on its role, as listen.js's PageSocket does.
// A tracker id (a peer's or an offer's, 20 binary characters) as the LIGHT_DEBUG log shows
// it: its last `n` hex digits, enough to match both sides of a pairing across homes.
const hexTail = (id, n = 12) => Buffer.from(id, 'latin1').toString('hex').slice(-n)
class TrackerSocket extends (globalThis.WebSocket ?? WebSocket) {
  constructor (url, ...rest) {
    super(url, ...rest)
    const listener = byToken.get(new URL(url).searchParams.get('s'))
    if (!listener) return
    listener.socket = this
    this.addEventListener('message', e => {
      let m
      try { m = JSON.parse(e.data) } catch { return }
      if (typeof m?.[SEED_HEADER] !== 'string') return
      listener.roleByTracker = true
      listener.seedAnswer(m[SEED_HEADER])
    })
    this.addEventListener('close', () => {
      listener.roleByTracker = false
      if (listener.socket === this) listener.socket = null
    })
    // LIGHT_DEBUG: what the tracker relayed to this listener and what it announced.
    if (process.env.LIGHT_DEBUG) {
      this.listener = listener
      this.addEventListener('message', e => {
        let m
        try { m = JSON.parse(e.data) } catch { return }
        const from = m.peer_id ? ` from ${hexTail(m.peer_id)} ${m.offer_id ? hexTail(m.offer_id, 8) : ''}` : ''
        const what = m.offer ? 'offer' : m.answer ? 'answer' : m.action === 'announce' ? `reply, interval ${m.interval}` : null
        if (what) log(`listener ${listener.index} +${listener.since()}s: tracker ${what}${from}`)
      })
      this.addEventListener('close', e => log(`listener ${listener.index} +${listener.since()}s: tracker socket closed ${e.code}`))
    }
  }

  send (data) {
    if (this.listener) {
      try {
        const m = JSON.parse(data)
        if (m.action === 'announce') log(`listener ${this.listener.index} +${this.listener.since()}s: announce ${m.event ?? ''} peer ${hexTail(m.peer_id)}, ${m.offers?.length ?? 0} offers${m.answer ? ', answer' : ''}`)
        else if (m.answer) log(`listener ${this.listener.index} +${this.listener.since()}s: answers`)
      } catch {}
    }
    return super.send(data)
  }
}
globalThis.WebSocket = TrackerSocket
// A browser ends ICE gathering with a null candidate, which simple-peer (in the tracker
// client) waits for before it sends an offer or answer without trickle; node-datachannel's
// polyfill only changes iceGatheringState, before its last candidates, so each side waited
// simple-peer's 5 s timeout and a listener met its first peer 10 s after it joined.
class PeerConnection extends wrtc.RTCPeerConnection {
  constructor (...config) {
    super(...config)
    this.addEventListener('icegatheringstatechange', () => {
      if (this.iceGatheringState !== 'complete') return
      setTimeout(() => this.onicecandidate?.({ candidate: null }), 100)
    })
  }
}
Object.assign(globalThis, wrtc, { RTCPeerConnection: PeerConnection })
// A page lives on after an error in its scripts; so does this home: a core's timer that fires
// after its listener left must not end the others.
process.on('uncaughtException', e => log(`light home: ${e.message}`))
process.on('unhandledRejection', e => log(`light home: ${e?.message || e}`))

const { Core, generateStreamShortId } = await import('../../node_modules/p2p-media-loader-core/dist/p2p-media-loader-core.es.js')

// Every listener of this process shares the one fetch; the session token in a request's
// query says whose answer carries the seed header.
const byToken = new Map()
const plainFetch = globalThis.fetch.bind(globalThis)
globalThis.fetch = async (input, init) => {
  const response = await plainFetch(input, init)
  const url = new URL(typeof input === 'string' ? input : input.url)
  const seed = response.headers.get(SEED_HEADER)
  const listener = byToken.get(url.searchParams.get('s'))
  if (seed !== null && listener) listener.seedAnswer(seed)
  if (listener) listener.segmentAnswer(url, response)
  return response
}

// The core keeps one peer id per stream for its whole module (a page holds one player): a
// second listener in this process would take the first one's id. Listeners start one at a
// time, and the cache is emptied (an unused core's destroy does it) once a listener's
// tracker client holds its id.
let starting = Promise.resolve()
function oneAtATime (fn) {
  const run = starting.then(fn)
  starting = run.catch(() => {})
  return run
}

const segmentNumber = url => Number(/\/(\d+)\.m4s$/.exec(new URL(url).pathname)?.[1])

function learnPlaylist (text, age) {
  const lines = text.split('\n')
  let first = null
  let skipped = 0
  let listed = 0
  let secs = null
  let uri = null
  let canSkip = false
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]
    if (l.startsWith('#EXT-X-MEDIA-SEQUENCE:')) first = Number(l.slice(22))
    else if (l.startsWith('#EXT-X-SKIP:')) skipped = Number(/SKIPPED-SEGMENTS=(\d+)/.exec(l)?.[1] || 0)
    else if (l.startsWith('#EXT-X-SERVER-CONTROL:')) canSkip = /CAN-SKIP-UNTIL=/.test(l)
    else if (l.startsWith('#EXTINF:')) {
      secs = parseFloat(l.slice(8))
      uri = lines[i + 1] || ''
      listed += 1
      i += 1
    }
  }
  if (first === null || !listed || secs !== 2 || !/\d+\.m4s$/.test(uri)) return null
  return { end: first + skipped + listed - 1, count: skipped + listed, uri, canSkip, at: performance.now() - age }
}

// A hostile listener's store (the plan's `lies`): it holds what it loaded, as an honest one
// does, but tells its peers it holds every segment the playlist lists, and never answers a
// request for one it lacks (the worst kind: a peer waits out its own timeout). Its own
// player sees only what it really holds.
class LyingStore {
  constructor (claimed) {
    this.claimed = claimed
    this.data = new Map()
    this.changed = () => {}
  }

  async initialize () {}
  onPlaybackUpdated () {}
  onSegmentRequested () {}
  setSegmentChangeCallback (callback) { this.changed = callback }
  destroy () { this.data.clear() }
  getUsage () { return { totalCapacity: 4096, usedCapacity: this.data.size / 16 } }
  hasSegment (_swarm, stream, id) { return this.data.has(`${stream}|${id}`) }

  // The playlist listed more: tell the peers (the core's stream id is the one it stores by).
  claimNew () {
    if (this.stream) this.changed(this.stream)
  }

  async storeSegment (_swarm, stream, id, bytes) {
    this.stream = stream
    this.data.set(`${stream}|${id}`, bytes)
    // The live window and a little more, as the memory store keeps.
    for (const key of this.data.keys()) if (Number(key.split('|')[1]) < id - 20) this.data.delete(key)
    this.changed(stream)
  }

  getSegmentData (_swarm, stream, id) {
    const bytes = this.data.get(`${stream}|${id}`)
    return bytes ? Promise.resolve(bytes) : new Promise(() => {})
  }

  getStoredSegmentIds (_swarm, stream) {
    this.stream = stream
    const held = [...this.data.keys()].filter(k => k.startsWith(`${stream}|`)).map(k => Number(k.split('|')[1]))
    return [...new Set([...held, ...this.claimed()])]
  }
}

class Listener {
  constructor (item, index, t0) {
    this.item = item
    this.index = index
    this.t0 = t0
    // stallAt: when each stall began (ms since the epoch), for a lab run that changes the
    // station's link mid-show.
    this.r = { ...item, played: 0, stalls: 0, jumps: 0, stallAt: [], stallSecs: 0, behind: [], live: null, error: null, pageBytes: 0 }
    this.stats = { segments: { http: 0, p2p: 0 }, bytes: { http: 0, p2p: 0 }, peers: 0, uploaded: 0, variant: 'opus', joined: null, seeds: false, standsIn: false, rejoined: 0, uploads: item.upload, playlists: { station: 0, guessed: 0 }, behind: null }
    this.last = null
    this.relearnt = -Infinity
    this.listed = new Map()
    this.loaded = new Set()
    this.loading = null
    this.pos = null
    // Whether the audio has begun: a stall counts only after that.
    this.started = false
    this.stallSince = null
    this.stallMs = 0
    this.playedSecs = 0
    this.stopped = false
  }

  since () {
    return ((Date.now() - this.t0) / 1000 - this.item.join).toFixed(1)
  }

  // listen.js's setClock: the station's answer to a segment sets the clock by the segment's
  // age, if it is the newest heard of; a 404 has the station's playlist asked for.
  segmentAnswer (url, response) {
    const sn = segmentNumber(url.href)
    if (!Number.isInteger(sn) || !this.last) return
    const now = performance.now()
    if (response.status === 404) {
      if (now - this.relearnt >= RELEARN_AFTER_404_MS && !this.asking) {
        this.relearnt = now
        this.relearn()
      }
      return
    }
    const age = Number(response.headers.get(AGE_HEADER) ?? NaN)
    if (sn < this.last.end || !Number.isFinite(age) || age < 0 || age >= 60000) return
    this.last = { ...this.last, end: sn, at: now - age }
  }

  // The page's role ('1' seeds, 'standby' stands in, '0' neither): a seed and its stand-in
  // ask the station for every playlist.
  seedAnswer (role) {
    this.stats.standsIn = role === 'standby'
    const now = role === '1'
    if (now === this.stats.seeds || !this.core) return
    this.stats.seeds = now
    this.core.applyDynamicConfig({ highDemandTimeWindow: now ? SEED_HIGH_DEMAND_S : HIGH_DEMAND_S })
  }

  sayWho (url) {
    const u = new URL(url)
    u.searchParams.set('s', this.token)
    u.searchParams.set('up', this.item.upload ? '1' : '0')
    u.searchParams.set('n', String(this.stats.uploaded))
    return u
  }

  // hls.js tries a playlist again when the connection fails (1, 2, 4 s apart); so does this.
  async get (url) {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await globalThis.fetch(url)
        const text = await response.text()
        if (!response.ok) throw new Error(`${url}: ${response.status}`)
        return { response, text }
      } catch (e) {
        if (attempt >= 3 || this.stopped || /: \d+$/.test(e.message)) throw e
        await sleep(1000 << attempt)
      }
    }
  }

  async open () {
    const page = await this.get(`${base}/${this.item.upload ? '' : '?upload=0'}`)
    this.r.pageBytes += page.text.length + 300
    this.r.pageAt = Date.now() / 1000
    const json = /<script[^>]*id="config"[^>]*>([\s\S]*?)<\/script>/.exec(page.text)?.[1]
    need(json, 'the listen page has no config')
    this.cfg = JSON.parse(json)
    const live = this.cfg.live
    need(live, 'the listen page offers no live stream')
    const master = await this.get(new URL(live.playlist, base).href)
    const lines = master.text.split('\n')
    const at = lines.findIndex(l => l.startsWith('#EXT-X-STREAM-INF') && /CODECS="opus"/.test(l))
    need(at >= 0, 'the master playlist has no Opus variant')
    const bandwidth = Number(/BANDWIDTH=(\d+)/.exec(lines[at])?.[1] || 0)
    this.level = new URL(lines[at + 1], master.response.url).href
    this.token = new URL(this.level).searchParams.get('s')
    need(this.token, 'the Opus variant has no session token')
    byToken.set(this.token, this)
    const sharing = Number(/DATA-ID="org.streamp2p.sharing",VALUE="(\d+)"/.exec(master.text)?.[1])
    this.stats.joined = sharing
    this.core = new Core({
      announceTrackers: [`${this.cfg.tracker}?s=${this.token}`],
      swarmId: live.swarmId,
      isP2PUploadDisabled: !this.item.upload,
      rtcConfig: { iceServers: this.cfg.ice },
      highDemandTimeWindow: HIGH_DEMAND_S,
      ...(this.item.lies ? { customSegmentStorageFactory: () => (this.store = new LyingStore(() => this.listed.keys())) } : {}),
      ...(sharing > 0 ? { httpDownloadInitialTimeoutMs: JOIN_WAIT_MS } : {}),
      // As the listen page: the core asks for the rest of a segment that a peer or a
      // timed-out request left half-done (a Range), and the station answers that part.
      httpRequestSetup: (url, byteRange, signal, requestByteRange) => {
        const u = this.sayWho(url)
        const sn = segmentNumber(url)
        if (this.pos !== null && this.listed.has(sn)) u.searchParams.set('due', (sn * 2 - this.pos).toFixed(1))
        const range = requestByteRange || byteRange
        const headers = range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}
        return new Request(u.href, { headers, signal })
      }
    })
    this.core.setManifestResponseUrl(master.response.url)
    // hls.js's level of an audio-only variant: its BANDWIDTH, no video codec, no size (the
    // swarm the node's tracker knows, src/live/p2p.rs).
    this.core.addStreamIfNoneExists({ runtimeId: this.level, type: 'main', index: generateStreamShortId({ bitrate: bandwidth }) })
    this.core.setActiveLevelBitrate(bandwidth)
    this.core.setIsLive(true)
    // listen.js's stranded watch: a page that is no seed and took its last 4 segments from
    // the station joins the swarm again, not in its first minute, at most once a minute
    // (NO_REJOIN in the environment leaves it out: a lab experiment).
    let fromStation = 0
    let lastRejoin = performance.now()
    // Peers by id, as listen.js: p2p-media-loader tells a closing peer twice.
    const peers = new Set()
    let tellTimer = null
    let told = -Infinity
    const tellPeers = () => {
      tellTimer = null
      if (this.socket?.readyState !== WebSocket.OPEN) return
      told = performance.now()
      this.socket.send(JSON.stringify({ action: PEERS_ACTION, peers: [...peers] }))
    }
    const peersChanged = () => { tellTimer ??= setTimeout(tellPeers, TELL_AFTER_MS) }
    this.core.addEventListener('onSegmentLoaded', d => {
      fromStation = d.downloadSource === 'http' && !this.stats.seeds ? fromStation + 1 : 0
      const now = performance.now()
      if (!process.env.NO_REJOIN && fromStation >= STRANDED_AFTER && now - lastRejoin >= REJOIN_EVERY_MS && (this.stats.joined > 0 || this.stats.peers > 0)) {
        fromStation = 0
        lastRejoin = now
        this.stats.rejoined += 1
        if (process.env.LIGHT_DEBUG) log(`listener ${this.index} +${this.since()}s: stranded, joins again`)
        this.core.applyDynamicConfig({ isP2PDisabled: true })
        this.core.applyDynamicConfig({ isP2PDisabled: false })
        // Its next load makes the new tracker client: one at a time in this process, as at
        // the start (the core's peer id cache).
        this.trackerHeld = false
      }
      if (d.downloadSource === 'http' && peers.size <= LONELY_PEERS && now - told >= TELL_LONELY_EVERY_MS) tellPeers()
      if (process.env.LIGHT_DEBUG) log(`listener ${this.index} +${this.since()}s: ${segmentNumber(d.segmentUrl)} by ${d.downloadSource}, playhead ${this.pos === null ? '-' : (segmentNumber(d.segmentUrl) * 2 - this.pos).toFixed(1)} s ahead, ${this.stats.peers} peers`)
      this.stats.segments[d.downloadSource] += 1
      this.stats.bytes[d.downloadSource] += d.bytesLength
    })
    if (process.env.LIGHT_DEBUG) {
      this.core.addEventListener('onSegmentError', d => log(`listener ${this.index} +${this.since()}s: ${segmentNumber(d.segment.url)} failed by ${d.downloadSource}: ${d.error?.type} ${d.error?.message ?? ''}`))
      this.core.addEventListener('onTrackerWarning', d => log(`listener ${this.index} +${this.since()}s: tracker warning ${d.warning?.message ?? d.warning}`))
      this.core.addEventListener('onPeerError', d => log(`listener ${this.index} +${this.since()}s: peer error ${d.error?.code ?? ''} ${d.error?.message}`))
    }
    this.core.addEventListener('onPeerConnect', p => {
      if (process.env.LIGHT_DEBUG) log(`listener ${this.index} +${this.since()}s: peer connected ${hexTail(p.peerId)}`)
      peers.add(p.peerId)
      this.stats.peers = peers.size
      peersChanged()
    })
    this.core.addEventListener('onPeerClose', p => {
      if (!peers.delete(p.peerId)) return
      if (process.env.LIGHT_DEBUG) log(`listener ${this.index} +${this.since()}s: peer closed`)
      this.stats.peers = peers.size
      peersChanged()
    })
    this.core.addEventListener('onChunkUploaded', n => { this.stats.uploaded += n })
    await this.reload()
  }

  // The station's playlist (a delta once it offers them), learned from.
  async learn () {
    const u = this.sayWho(this.level)
    if (this.last?.canSkip) u.searchParams.set('_HLS_skip', 'YES')
    this.stats.playlists.station += 1
    const asked = performance.now()
    const { response, text } = await this.get(u.href)
    const age = Number(response.headers.get(AGE_HEADER))
    if (process.env.LIGHT_DEBUG) log(`listener ${this.index} +${this.since()}s: station playlist in ${Math.round(performance.now() - asked)} ms, age ${age}, edge was ${this.edge}, seeds ${this.stats.seeds}, stands in ${this.stats.standsIn}, by tracker ${this.roleByTracker}`)
    const learned = learnPlaylist(text, Number.isFinite(age) && age >= 0 && age < 60000 ? age : 0)
    need(learned, `an unreadable playlist: ${text.slice(0, 200)}`)
    this.last = learned
    this.stale = false
    return learned
  }

  // As listen.js's relearn: the station's next playlist, beside the guessing, one at a time.
  relearn () {
    this.asking = true
    this.learn().catch(() => {}).finally(() => { this.asking = false })
  }

  // hls.js's reload of the live playlist: from the station, or (a page that does not seed,
  // between two of the station's) written by the page itself.
  async reload () {
    const now = performance.now()
    let end
    const refresh = this.roleByTracker ? TRACKED_REFRESH_MS : this.stats.seeds || this.stats.standsIn ? 0 : PLAYLIST_REFRESH_MS
    if (this.last && !this.stale && refresh > 0) {
      if (now - this.last.at >= refresh && !this.asking) this.relearn()
      end = this.last.end + Math.max(0, Math.floor((now - this.last.at - GUESS_MARGIN_MS) / 2000))
      this.stats.playlists.guessed += 1
    } else {
      end = (await this.learn()).end
    }
    const count = this.last.count
    const add = []
    for (let sn = end - count + 1; sn <= end; sn++) {
      if (this.listed.has(sn)) continue
      const url = new URL(this.last.uri.replace(/\d+(\.m4s)$/, `${sn}$1`), this.level).href
      this.listed.set(sn, url)
      add.push({ runtimeId: url, url, externalId: sn, startTime: sn * 2, endTime: sn * 2 + 2 })
    }
    const gone = [...this.listed].filter(([sn]) => sn <= end - count)
    for (const [sn] of gone) this.listed.delete(sn)
    this.edge = (end + 1) * 2
    if (add.length || gone.length) this.core.updateStream(this.level, add, gone.map(([, url]) => url))
    // A liar claims the new ones at once.
    if (add.length && this.store) this.store.claimNew()
    if (this.pos === null) this.pos = this.edge - LIVE_SYNC_SEGMENTS * 2
  }

  // hls.js's fragment loading: the next segment after what is buffered, once it is listed and
  // due within the buffer's length (max of 2 target durations and the high-demand window).
  fill () {
    if (this.loading !== null || this.pos === null) return
    let sn = Math.floor(this.pos / 2)
    while (this.loaded.has(sn)) sn += 1
    const url = this.listed.get(sn)
    if (!url || sn * 2 - this.pos >= Math.max(4, HIGH_DEMAND_S)) return
    this.loading = sn
    const done = () => { if (this.loading === sn) this.loading = null }
    const first = !this.trackerHeld
    const load = () => this.core.loadSegment(url, {
      onSuccess: () => { this.loaded.add(sn); done() },
      onError: e => {
        // As the page: the next playlist is the station's.
        this.stale = true
        if (!this.stopped) log(`listener ${this.index}: segment ${sn}: ${e.type || e.message}`)
        setTimeout(done, 1000)
      }
    })
    if (!first) return void load()
    this.trackerHeld = true
    oneAtATime(async () => {
      await load()
      new Core().destroy()
    })
  }

  // The audio element: the playhead moves while the segment under it is loaded.
  tick (dt) {
    if (this.pos === null) return
    // hls.js: a playhead that fell behind the start of the live window (the station no
    // longer lists its segment) is moved to the live sync point, as far behind the edge
    // as at the start.
    const windowStart = this.edge - this.last.count * 2
    if (this.pos < windowStart) {
      if (process.env.LIGHT_DEBUG) log(`listener ${this.index} +${this.since()}s: behind the window, to the live point`)
      this.pos = this.edge - LIVE_SYNC_SEGMENTS * 2
      this.loading = null
      this.r.jumps += 1
    }
    const here = this.loaded.has(Math.floor(this.pos / 2))
    const now = performance.now()
    if (here) {
      this.started = true
      if (this.stallSince !== null) { this.stallMs += now - this.stallSince; this.stallSince = null }
      this.pos += dt / 1000
      this.playedSecs += dt / 1000
    } else if (this.started && this.stallSince === null) {
      this.r.stalls += 1
      this.r.stallAt.push(Date.now())
      this.stallSince = now
    }
    for (const sn of this.loaded) if (sn * 2 + 2 < this.pos - 30) this.loaded.delete(sn)
    this.core.updatePlayback(this.pos, 1)
    this.stats.behind = this.edge - this.pos
  }

  async run () {
    const wait = this.t0 + this.item.join * 1000 - Date.now()
    if (wait > 0) await sleep(wait)
    const end = this.t0 + (this.item.leave === null ? seconds : this.item.leave) * 1000
    try {
      await oneAtATime(() => this.open())
      let nextReload = performance.now() + 2000
      let nextSample = Date.now() + 5000
      let lastTick = performance.now()
      while (Date.now() < end) {
        await sleep(TICK_MS)
        const now = performance.now()
        this.tick(now - lastTick)
        lastTick = now
        this.fill()
        if (now >= nextReload) {
          nextReload = now + 2000
          this.reload().catch(e => log(`listener ${this.index}: playlist: ${e.message}`))
        }
        if (Date.now() >= nextSample) {
          nextSample += 5000
          this.r.behind.push(Math.round(this.stats.behind * 10) / 10)
        }
      }
    } catch (e) {
      // undici says only "fetch failed"; why (refused, reset, timed out) is its cause's.
      const cause = e.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''}; event loop still up to ${longestStill()} ms in the last minute)` : ''
      this.r.error = String((e.message || e) + cause).slice(0, 300)
      log(`listener ${this.index}: ${this.r.error}`)
    }
    this.stopped = true
    if (this.stallSince !== null) this.stallMs += performance.now() - this.stallSince
    this.r.played = this.playedSecs
    this.r.stallSecs = Math.round(this.stallMs / 100) / 10
    // A copy: the core's destroy below closes its peers, which the counts would follow.
    this.r.live = JSON.parse(JSON.stringify(this.stats))
    // The page's pagehide beacon: it leaves.
    if (this.token) await plainFetch(this.sayWho(new URL('/live/leave', this.level)).href, { method: 'POST' }).catch(() => {})
    byToken.delete(this.token)
    this.core?.destroy()
    return this.r
  }
}

const t0 = Date.now()
const results = await Promise.all(plan.map((item, i) => new Listener(item, i, t0).run()))
console.log(`result ${JSON.stringify(results)}`)
// node-datachannel keeps native threads; exit explicitly.
await sleep(200)
process.exit(0)
