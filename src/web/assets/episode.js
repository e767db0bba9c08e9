// Episodes through the WebTorrent client on pages with no service worker (plain http on the
// LAN, where a browser refuses one): the file is read in order from the play position as its
// pieces arrive and appended to Media Source Extensions, so the listener shares what it plays.
// It also decides where the bytes come from: other listeners first, the station only for what
// they cannot deliver in time.

// Seconds buffered ahead of the play head before reading pauses, and kept behind it (for a
// short skip back); older audio is removed, so a long episode never fills the memory.
const AHEAD = 60
const BEHIND = 30
// The bytes read before playback starts (ID3 tag, first frame, its Xing table).
const HEAD = 65536

// The station's own WebRTC peer announces itself with this peer id prefix ("-SP", Azureus
// style, src/webtorrent/mod.rs), so the page can tell it from other listeners.
const STATION_PEER = '2d5350'

// WebTorrent checks each piece's SHA-1 with WebCrypto, which browsers give only to secure
// contexts (https, the box itself), and looks for it once, when it loads. On plain http
// js-sha1 (window.sha1, a classic script of the page) answers in its place.
if (window.crypto && !window.crypto.subtle && window.sha1) {
  const digest = async (algo, data) => {
    const name = String((algo && algo.name) || algo).toUpperCase()
    if (name !== 'SHA-1') throw new Error(`no ${name} without WebCrypto`)
    return window.sha1.arrayBuffer(data)
  }
  Object.defineProperty(window.crypto, 'subtle', { value: { digest } })
}

const wait = ms => new Promise(resolve => setTimeout(resolve, ms))

/**
 * How `name` plays without a service worker: MP3, ADTS AAC and MP4 audio (M4A) through MSE,
 * else 'blob'. An M4A is checked for AAC-LC here; its own codec once its moov is read.
 */
export function route (name) {
  const MS = window.MediaSource || window.ManagedMediaSource
  const ext = name.toLowerCase().split('.').pop()
  const mp4 = ['m4a', 'm4b', 'mp4'].includes(ext)
  const mime = mp4 ? 'audio/mp4' : { mp3: 'audio/mpeg', aac: 'audio/aac' }[ext]
  const probe = mp4 ? 'audio/mp4; codecs="mp4a.40.2"' : mime
  if (MS && mime && MS.isTypeSupported(probe)) return { kind: 'mse', mime }
  return { kind: 'blob' }
}

// ---- Where each second of the file starts -------------------------------------------------

const MP3_KBPS = {
  1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
}
const MP3_RATES = [44100, 48000, 32000]
const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

// Bytes of an ID3v2 tag at the start (its size is "syncsafe": 7 bits a byte).
function id3Length (b) {
  if (b.length < 10 || b[0] !== 0x49 || b[1] !== 0x44 || b[2] !== 0x33) return 0
  const size = (b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9]
  return 10 + size + (b[5] & 0x10 ? 10 : 0)
}

function u32 (b, i) {
  return ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3]
}

/**
 * A map from time to byte offset for an MP3, read from its first frame: the Xing/Info table
 * of contents when there is one (VBR; LAME writes it), else the frame's constant bitrate.
 * `head` is the file's first bytes, `length` its size. Null when no Layer III frame is found.
 */
export function mp3Map (head, length) {
  const skip = id3Length(head)
  for (let i = skip; i + 4 <= head.length; i++) {
    if (head[i] !== 0xff || (head[i + 1] & 0xe0) !== 0xe0) continue
    const version = (head[i + 1] >> 3) & 3 // 3: MPEG 1, 2: MPEG 2, 0: MPEG 2.5
    const layer = (head[i + 1] >> 1) & 3 // 1: Layer III
    const kbps = MP3_KBPS[version === 3 ? 1 : 2][head[i + 2] >> 4]
    const rateIndex = (head[i + 2] >> 2) & 3
    if (version === 1 || layer !== 1 || !kbps || rateIndex === 3) continue
    const rate = MP3_RATES[rateIndex] / (version === 3 ? 1 : version === 2 ? 2 : 4)
    const mono = (head[i + 3] >> 6) === 3
    const side = version === 3 ? (mono ? 17 : 32) : (mono ? 9 : 17)
    const x = i + 4 + side
    const tag = String.fromCharCode(...head.subarray(x, x + 4))
    const audioBytes = length - i
    let duration = audioBytes * 8 / (kbps * 1000)
    let toc = null
    let bytes = audioBytes
    if ((tag === 'Xing' || tag === 'Info') && x + 8 <= head.length) {
      const flags = u32(head, x + 4)
      let p = x + 8
      if (flags & 1) {
        const frames = u32(head, p)
        if (frames) duration = frames * (version === 3 ? 1152 : 576) / rate
        p += 4
      }
      if (flags & 2) { bytes = u32(head, p) || audioBytes; p += 4 }
      if (flags & 4 && p + 100 <= head.length) toc = head.subarray(p, p + 100)
    }
    return { duration, offset: t => i + fraction(toc, t / duration) * Math.min(bytes, audioBytes) }
  }
  return null
}

// The fraction of the audio bytes before the fraction `f` of the time: from the table of
// contents (100 entries of 1/256ths) or in proportion.
function fraction (toc, f) {
  const p = Math.min(Math.max(f, 0), 1) * 100
  if (!toc) return p / 100
  const i = Math.min(Math.floor(p), 99)
  const a = toc[i]
  const b = i < 99 ? toc[i + 1] : 256
  return (a + (b - a) * (p - i)) / 256
}

/** The same map for ADTS AAC, from the average frame size of the frames in `head`. */
export function adtsMap (head, length) {
  const skip = id3Length(head)
  let i = skip
  let frames = 0
  let rate = 0
  while (i + 7 <= head.length && head[i] === 0xff && (head[i + 1] & 0xf6) === 0xf0) {
    rate = ADTS_RATES[(head[i + 2] >> 2) & 0xf]
    const size = ((head[i + 3] & 3) << 11) | (head[i + 4] << 3) | (head[i + 5] >> 5)
    if (!rate || size < 7) break
    i += size
    frames++
  }
  if (!frames) return null
  const bytesPerSecond = (i - skip) / frames * rate / 1024
  const duration = (length - skip) / bytesPerSecond
  return { duration, offset: t => skip + Math.min(Math.max(t, 0), duration) * bytesPerSecond }
}

// ---- Media Source Extensions --------------------------------------------------------------

function idle (sb) {
  return sb.updating ? new Promise(resolve => sb.addEventListener('updateend', resolve, { once: true })) : Promise.resolve()
}

// The end of the buffered range holding `t`, or `t` when it is not buffered.
function bufferedEnd (sb, t) {
  for (let i = 0; i < sb.buffered.length; i++) {
    if (sb.buffered.start(i) <= t + 0.1 && t <= sb.buffered.end(i)) return sb.buffered.end(i)
  }
  return t
}

// A MediaSource playing in `audio`, with one SourceBuffer for `mime`.
async function openMse (audio, mime, duration) {
  const MS = window.MediaSource || window.ManagedMediaSource
  // ManagedMediaSource (Safari) only plays while remote playback (AirPlay) is off.
  if (!window.MediaSource) audio.disableRemotePlayback = true
  const ms = new MS()
  audio.src = URL.createObjectURL(ms)
  await new Promise(resolve => ms.addEventListener('sourceopen', resolve, { once: true }))
  const sb = ms.addSourceBuffer(mime)
  if (duration > 0) ms.duration = duration
  return { ms, sb }
}

/**
 * Feeds `file` into `sb` as its pieces arrive, from the play position on, and again from
 * wherever the listener seeks to a time not buffered. The format's part: `start(t)` readies
 * it for time `t` and gives the byte to read from; `convert(chunk, at)` gives what to append
 * for the bytes read at `at`; `end()` what is left at the end of the file. Returns `stop`.
 */
function feed (file, audio, { ms, sb }, { start, convert, end }) {
  let generation = 0
  let reader = null
  let stopped = false

  async function append (chunk) {
    for (;;) {
      await idle(sb)
      try {
        sb.appendBuffer(chunk)
        return idle(sb)
      } catch (err) {
        if (err.name !== 'QuotaExceededError') throw err
        // Full: drop what is behind the play head and try again a little later.
        trim(5)
        await wait(500)
      }
    }
  }

  function trim (keep) {
    const t = audio.currentTime
    if (sb.updating || !sb.buffered.length) return
    const first = sb.buffered.start(0)
    if (t - first > keep + 5) sb.remove(first, t - keep)
  }

  // Reads from time `t` to the end; a newer call (a seek) ends this one.
  async function readFrom (t) {
    const mine = ++generation
    const current = () => mine === generation && !stopped
    if (reader) reader.return()
    await idle(sb)
    if (!current()) return
    if (ms.readyState === 'open') sb.abort()
    let at = Math.floor(start(t))
    reader = file[Symbol.asyncIterator]({ start: at })
    for await (const chunk of reader) {
      if (!current()) return
      while (bufferedEnd(sb, audio.currentTime) - audio.currentTime > AHEAD) {
        trim(BEHIND)
        await wait(500)
        if (!current()) return
      }
      trim(BEHIND)
      const out = convert(chunk, at)
      at += chunk.length
      for (const part of out) await append(part)
    }
    if (!current() || ms.readyState !== 'open') return
    for (const part of end()) await append(part)
    await idle(sb)
    ms.endOfStream()
  }

  audio.addEventListener('seeking', () => {
    const t = audio.currentTime
    if (stopped || bufferedEnd(sb, t) > t) return
    readFrom(t).catch(err => console.warn('episode player:', err))
  })
  readFrom(0).catch(err => console.warn('episode player:', err))
  return () => {
    stopped = true
    if (reader) reader.return()
  }
}

/**
 * Plays `file` (a WebTorrent file) in `audio` through Media Source Extensions, `mime` being
 * what `route` gave: a byte stream type (audio/mpeg, audio/aac) or audio/mp4. `reading.at`
 * follows the byte read before playback starts (for the choice of sources). Returns
 * { stop, position, bytesPerSecond, mime }, `position(t)` being the byte played at `t`.
 */
export async function playMse (file, audio, mime, reading = {}) {
  if (mime === 'audio/mp4') return playMp4(file, audio, reading)
  reading.at = 0
  const head = await readAll(file, 0, Math.min(file.length, HEAD) - 1)
  const map = (mime === 'audio/mpeg' ? mp3Map : adtsMap)(head, file.length) ||
    { duration: NaN, offset: t => 0 }
  const source = await openMse(audio, mime, map.duration)
  const stop = feed(file, audio, source, {
    // Raw frames carry no time: the SourceBuffer is told where they start.
    start: t => { source.sb.timestampOffset = t; return map.offset(t) },
    convert: chunk => [chunk],
    end: () => []
  })
  return {
    stop,
    // Seconds to bytes, for the sources: where the play head is and how fast bytes go by.
    position: t => map.offset(t),
    bytesPerSecond: map.duration > 0 ? file.length / map.duration : 16000,
    mime
  }
}

// ---- MP4 audio (M4A: AAC as podcasts publish it) ------------------------------------------

// Seconds of audio in each fragment made for Media Source Extensions.
const FRAGMENT = 1.5

/**
 * An MP4 is not a byte stream: its sample tables (the moov) come first ("faststart") or after
 * the audio. mp4box.js (loaded here, so MP3 listeners never fetch it) reads the moov wherever
 * it is, jumping to the file's tail when the moov is there (WebTorrent then fetches those
 * pieces first), and turns the samples into fragments (moof + mdat) as pieces arrive.
 */
async function playMp4 (file, audio, reading) {
  // By its content-hashed address from the page's config; the two modules it imports by
  // relative name answer at their plain names (already hashed by mp4box's build).
  const assets = JSON.parse(document.getElementById('config').textContent).assets
  const { createFile, MP4BoxBuffer, Log } = await import(assets.mp4box)
  Log.setLogLevel(Log.error)
  const mp4 = createFile()
  let info = null
  mp4.onReady = i => { info = i }
  mp4.onError = (where, message) => console.warn('episode player: mp4box', where, message)
  // mp4box keeps what it is given until its samples are used: a copy of each chunk.
  const give = (chunk, at) => mp4.appendBuffer(MP4BoxBuffer.fromArrayBuffer(new Uint8Array(chunk).buffer, at))

  // The moov, wherever it is: mp4box says which byte it wants next.
  let at = 0
  while (!info) {
    reading.at = at
    let next = null
    for await (const chunk of file[Symbol.asyncIterator]({ start: at })) {
      next = give(chunk, at)
      at += chunk.length
      if (info || next > at) break
    }
    if (info) break
    if (!(next > at)) throw new Error('no moov box in the file')
    at = next
  }
  const track = info.audioTracks[0]
  if (!track) throw new Error('no audio track in the file')
  const mime = `audio/mp4; codecs="${track.codec}"`
  const MS = window.MediaSource || window.ManagedMediaSource
  if (!MS.isTypeSupported(mime)) throw new Error(`the browser cannot play ${mime}`)
  const duration = track.duration / track.timescale
  if (!(duration > 0 && track.nb_samples > 0)) throw new Error('an empty audio track')
  mp4.setSegmentOptions(track.id, null, {
    nbSamples: Math.max(1, Math.round(FRAGMENT * track.nb_samples / duration))
  })
  const init = mp4.initializeSegmentation()
  const source = await openMse(audio, mime, duration)
  source.sb.appendBuffer(init.buffer)
  await idle(source.sb)

  // Time to byte, from the sample table, without moving mp4box's own position.
  const samples = mp4.getTrackSamplesInfo(track.id)
  const offset = t => {
    let lo = 0
    let hi = samples.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (samples[mid].dts / samples[mid].timescale <= t) lo = mid
      else hi = mid - 1
    }
    return samples.length ? samples[lo].offset : 0
  }

  let fragments = []
  mp4.onSegment = (id, user, buffer, next) => {
    fragments.push(buffer)
    mp4.releaseUsedSamples(id, next)
  }
  const take = () => { const out = fragments; fragments = []; return out }
  mp4.start()
  const stop = feed(file, audio, source, {
    // Fragments carry their own time (tfdt): mp4box starts again at the sample for `t`.
    start: t => { fragments = []; return mp4.seek(t, true).offset },
    convert: (chunk, from) => { give(chunk, from); return take() },
    end: () => { mp4.flush(); return take() }
  })
  return {
    stop,
    position: offset,
    bytesPerSecond: file.length / duration,
    mime
  }
}

async function readAll (file, start, end) {
  const parts = []
  for await (const chunk of file[Symbol.asyncIterator]({ start, end })) parts.push(chunk)
  const out = new Uint8Array(end - start + 1)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out.subarray(0, at)
}

/**
 * Formats MSE cannot take (WAV, FLAC, Ogg): WebTorrent fetches the file in order and the
 * page plays it once it is whole, from memory. Returns the same shape as `playMse`.
 */
export function playWhole (torrent, file, audio) {
  let stopped = false
  file.blob().then(blob => {
    if (stopped) return
    audio.src = URL.createObjectURL(blob)
    audio.play().catch(() => {})
  }).catch(err => console.warn('episode player:', err))
  return {
    stop () { stopped = true },
    // Until it is whole, what is due is the first piece still missing, and a few after it.
    position () {
      let i = 0
      while (i < torrent.pieces.length && torrent.bitfield.get(i)) i++
      return i * torrent.pieceLength
    },
    bytesPerSecond: torrent.pieceLength
  }
}

// ---- Where the bytes come from ------------------------------------------------------------

/**
 * Keeps the station's uplink for what other listeners cannot deliver. The station reaches a
 * page two ways, both shown to WebTorrent as peers that have every piece: its WebRTC peer
 * and its web seed. Here each is shown as having only what the page lets it give:
 * - the station's WebRTC peer: the pieces no connected listener has (all of them for a lone
 *   listener), after a short wait for listeners to connect;
 * - the web seed, added only while a piece due within `URGENT` seconds is missing and nobody
 *   has it, or nothing arrives (or playback waits); it gives only those pieces and goes away
 *   3 s after nothing is due.
 * `player()` gives the current player (bytes at a time), `reading.at` the byte read before
 * it starts (the file's head, or an M4A's moov at its tail). Bytes are counted by source in
 * `counters`. Returns a function that stops it.
 */
export function manageSources (torrent, audio, { webSeed, player, reading, counters }) {
  const URGENT = 6
  // Time for the first peers to connect before the station gives anything.
  const GRACE = 800
  let lastPeerBytes = 0
  let lastNeed = 0
  let startedAt = Date.now()
  let waitingSince = 0
  const allowed = { webSeed: new Set(), station: new Set() }

  const isStation = wire => wire.type === 'webrtc' && String(wire.peerId || '').startsWith(STATION_PEER)
  const kind = wire => wire.type === 'webSeed' ? 'webSeed' : isStation(wire) ? 'station' : null
  // A station wire claims only the pieces allowed (its own bitfield says all). Run after
  // WebTorrent's own bitfield handler, before its next request round (an idle callback).
  const restrict = wire => {
    const set = allowed[kind(wire)]
    if (!set || !wire.peerPieces) return
    for (let i = 0; i < torrent.pieces.length; i++) wire.peerPieces.set(i, set.has(i))
  }
  const onWire = wire => {
    wire.on('bitfield', () => restrict(wire))
    wire.on('have', () => restrict(wire))
    wire.on('handshake', () => restrict(wire))
    restrict(wire)
    wire.on('download', n => {
      const k = kind(wire)
      if (k === 'webSeed') counters.fromWebSeed += n
      else if (k === 'station') counters.fromStation += n
      else counters.fromPeers += n
      if (k !== 'webSeed') lastPeerBytes = Date.now()
    })
    wire.on('upload', n => { counters.uploaded += n })
  }
  torrent.wires.forEach(onWire)
  torrent.on('wire', onWire)
  const onWaiting = () => { waitingSince = waitingSince || Date.now() }
  const onPlaying = () => { waitingSince = 0 }
  const onSeeking = () => { startedAt = Date.now() }
  audio.addEventListener('waiting', onWaiting)
  audio.addEventListener('playing', onPlaying)
  audio.addEventListener('seeking', onSeeking)

  // The missing pieces of the next `seconds` from the play head.
  function missing (seconds) {
    const p = player()
    const from = p ? p.position(audio.currentTime) : reading.at
    // Before the player starts it reads HEAD bytes or so (or an M4A's moov).
    const to = p ? from + seconds * p.bytesPerSecond : from + HEAD
    const last = torrent.pieces.length - 1
    const a = Math.min(Math.floor(from / torrent.pieceLength), last)
    const b = Math.min(Math.floor(to / torrent.pieceLength), last)
    const out = []
    for (let i = a; i <= b; i++) if (!torrent.bitfield.get(i)) out.push(i)
    return out
  }

  function same (a, b) {
    if (a.size !== b.size) return false
    for (const x of a) if (!b.has(x)) return false
    return true
  }

  function tick () {
    if (torrent.destroyed) return
    const now = Date.now()
    const wires = torrent.wires.filter(w => !w.destroyed)
    const listeners = wires.filter(w => !kind(w))
    const station = wires.some(w => kind(w) === 'station')
    const listenerHas = i => listeners.some(w => w.peerPieces && w.peerPieces.get(i))
    const early = !listeners.length && now - startedAt < GRACE
    const before = { ...allowed }
    const rare = new Set()
    if (!early) {
      for (let i = 0; i < torrent.pieces.length; i++) {
        if (!torrent.bitfield.get(i) && !listenerHas(i)) rare.add(i)
      }
    }
    allowed.station = rare
    const seed = wires.find(w => kind(w) === 'webSeed')
    counters.webSeedOn = Boolean(seed)
    let need = []
    if (webSeed && !torrent.done) {
      const stalled = (now - lastPeerBytes > 2000 && now - startedAt > GRACE) ||
        (waitingSince && now - waitingSince > 1000)
      need = early ? [] : missing(URGENT).filter(i => stalled || (!station && !listenerHas(i)))
    }
    allowed.webSeed = new Set(need)
    if (need.length) {
      lastNeed = now
      if (!seed) torrent.addWebSeed(webSeed)
    } else if (seed && now - lastNeed > 3000) {
      torrent.removePeer(webSeed)
    }
    for (const w of wires) restrict(w)
    // A source newly allowed pieces: WebTorrent tells it it is interested again (it judged
    // interest when the pieces were hidden, e.g. when a magnet's metadata arrived, and a
    // peer that is not interested stays choked) and asks at once (it otherwise waits for
    // the next piece to arrive, and none may be coming).
    if (!same(before.station, allowed.station) || !same(before.webSeed, allowed.webSeed)) {
      torrent._updateInterest()
      torrent._update()
    }
  }
  const timer = setInterval(tick, 250)
  tick()
  return () => {
    clearInterval(timer)
    torrent.removeListener('wire', onWire)
    audio.removeEventListener('waiting', onWaiting)
    audio.removeEventListener('playing', onPlaying)
    audio.removeEventListener('seeking', onSeeking)
  }
}
