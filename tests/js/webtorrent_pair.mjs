// Two webtorrent 2.8 clients exchange a file over WebRTC alone, through the node's WebSocket
// tracker: A seeds a random buffer with only the node's ws:// URL as tracker, B fetches it by a
// magnet that names only that tracker. No DHT, LSD, uTP, PEX or web seeds, and the torrent
// lists no TCP-reachable tracker, so the only way from A to B is a WebRTC connection that the
// node signalled (offer relayed to A, answer routed back to B).
//
//   node tests/js/webtorrent_pair.mjs --tracker ws://127.0.0.1:P/announce [--size BYTES]
//
// Exits 0 when B holds the same bytes as A and every wire was WebRTC; otherwise prints
// `FAIL: reason` and exits 1.

import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { args, check, checkEq, fail, getJson, log, next, overallTimeout, sleep, until } from './lib.mjs'
import { webrtcClient } from './webrtc_client.mjs'

const opt = args({
  tracker: { type: 'string' },
  size: { type: 'string', default: String(1536 * 1024) }
})
check(opt.tracker && opt.tracker.startsWith('ws://'), '--tracker ws://HOST:PORT/announce is required')
const size = Number(opt.size)
check(Number.isInteger(size) && size > 0, `bad --size ${opt.size}`)
overallTimeout(100, 'webtorrent_pair')

const sha = (b) => createHash('sha256').update(b).digest('hex')

// Each client stores pieces in its own fresh folder: with webtorrent's shared default
// (/tmp/webtorrent/<infohash>) B would find A's copy on disk and never download anything.
const work = mkdtempSync(join(tmpdir(), 'streamp2p-webtorrent-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

async function main () {
  const data = randomBytes(size)
  log(`webtorrent_pair: ${size} bytes, sha256 ${sha(data)}, tracker ${opt.tracker}`)

  const a = webrtcClient('client A')
  const seeding = new Promise((resolve) => {
    a.seed(data, { path: join(work, 'a'), name: 'pair.bin', announce: [opt.tracker], announceList: [[opt.tracker]] }, resolve)
  })
  const ta = await seeding
  log(`A seeds ${ta.infoHash} (announce ${JSON.stringify(ta.announce)})`)
  checkEq(ta.announce, [opt.tracker], 'trackers of the seeded torrent')
  ta.on('warning', (err) => log(`A warning: ${err.message || err}`))
  // A's first announce must be recorded before B asks for peers (B's offers go to A).
  const api = opt.tracker.replace(/^ws:/, 'http:').replace(/\/announce.*$/, '/api/tracker')
  await until('A\'s announce in /api/tracker (a WebSocket seeder)', 20_000, async () => {
    const t = await getJson(api)
    const s = (t.torrents || []).find((x) => x.info_hash === ta.infoHash)
    return [s && s.ws.complete === 1, s ?? t]
  })
  log('A announced')

  const magnet = `magnet:?xt=urn:btih:${ta.infoHash}&dn=pair.bin&tr=${encodeURIComponent(opt.tracker)}`
  const b = webrtcClient('client B')
  const tb = b.add(magnet, { path: join(work, 'b'), announce: [] })
  tb.on('warning', (err) => log(`B warning: ${err.message || err}`))
  tb.on('wire', (wire) => log(`B: wire ${wire.type} to ${wire.remoteAddress ?? '(webrtc)'}`))
  tb.on('metadata', () => log('B: metadata'))
  const started = Date.now()
  const done = next(tb, 'done', 80_000, 'B to finish the download')
  const progress = setInterval(() => {
    log(`B: ${tb.numPeers} peers, ${tb.received} bytes received, progress ${(tb.progress * 100).toFixed(1)} %`)
  }, 5000)
  progress.unref()
  await done
  clearInterval(progress)
  log(`B: done after ${((Date.now() - started) / 1000).toFixed(1)} s`)

  checkEq(tb.announce, [opt.tracker], 'trackers B used')
  checkEq(tb.urlList ?? [], [], 'web seeds of B\'s torrent')
  const file = tb.files[0]
  check(file, 'B\'s torrent has no file')
  const got = Buffer.from(await file.arrayBuffer())
  checkEq(got.length, size, 'length of B\'s file')
  checkEq(sha(got), sha(data), 'sha256 of B\'s file')
  check(got.equals(data), 'B\'s bytes differ from A\'s')
  const types = tb.wires.map((w) => w.type)
  log(`B's wires: ${JSON.stringify(types)}`)
  check(types.length > 0 && types.every((t) => t === 'webrtc'), `B had non-WebRTC wires: ${JSON.stringify(types)}`)
  check(tb.received >= size, `B received ${tb.received} bytes, less than the file`)

  log('webtorrent_pair: all checks passed')
  await Promise.race([
    Promise.all([new Promise((resolve) => a.destroy(resolve)), new Promise((resolve) => b.destroy(resolve))]),
    sleep(3000)
  ])
  process.exit(0)
}

main().catch((err) => fail(err.stack || String(err)))
