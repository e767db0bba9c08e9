// A webtorrent 2.8 client fetches a library file from the node over WebRTC alone: a magnet
// with only the node's ws:// tracker (no `ws=` web seed, no other tracker), no DHT, LSD, uTP
// or PEX. The node is the only peer, so the bytes come from its WebRTC seeder: the tracker
// relays our offer to it and its answer back.
//
//   node tests/js/webtorrent_fetch.mjs --tracker ws://127.0.0.1:P/announce --infohash HEX \
//        --name NAME --sha256 HEX --size BYTES
//
// Exits 0 when the file arrived whole (sha256) and every wire was WebRTC; otherwise prints
// `FAIL: reason` and exits 1.

import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { args, check, checkEq, fail, log, next, overallTimeout, sleep } from './lib.mjs'
import { webrtcClient } from './webrtc_client.mjs'

const opt = args({
  tracker: { type: 'string' },
  infohash: { type: 'string' },
  name: { type: 'string', default: 'file' },
  sha256: { type: 'string' },
  size: { type: 'string' }
})
check(opt.tracker && opt.tracker.startsWith('ws://'), '--tracker ws://HOST:PORT/announce is required')
check(/^[0-9a-f]{40}$/.test(opt.infohash ?? ''), '--infohash (40 hex digits) is required')
check(/^[0-9a-f]{64}$/.test(opt.sha256 ?? ''), '--sha256 (64 hex digits) is required')
const size = Number(opt.size)
check(Number.isInteger(size) && size > 0, `bad --size ${opt.size}`)
overallTimeout(110, 'webtorrent_fetch')

const work = mkdtempSync(join(tmpdir(), 'streamp2p-webtorrent-fetch-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

async function main () {
  const client = webrtcClient('client')

  const magnet = `magnet:?xt=urn:btih:${opt.infohash}&dn=${encodeURIComponent(opt.name)}&tr=${encodeURIComponent(opt.tracker)}`
  log(`webtorrent_fetch: ${magnet}`)
  const t = client.add(magnet, { path: work })
  t.on('warning', (err) => log(`warning: ${err.message || err}`))
  t.on('wire', (wire) => log(`wire ${wire.type} (peer id ${wire.peerId})`))
  t.on('metadata', () => log(`metadata: ${t.name}, ${t.length} bytes, ${t.pieces.length} pieces`))
  const started = Date.now()
  const done = next(t, 'done', 90_000, 'the download to finish')
  const progress = setInterval(() => {
    log(`${t.numPeers} peers, ${t.received} bytes received, progress ${(t.progress * 100).toFixed(1)} %`)
  }, 5000)
  progress.unref()
  await done
  clearInterval(progress)
  log(`done after ${((Date.now() - started) / 1000).toFixed(1)} s`)

  checkEq(t.announce, [opt.tracker], 'trackers used')
  checkEq(t.urlList ?? [], [], 'web seeds')
  checkEq(t.length, size, 'torrent length')
  const file = t.files[0]
  check(file, 'the torrent has no file')
  const got = Buffer.from(await file.arrayBuffer())
  checkEq(got.length, size, 'length of the file')
  checkEq(createHash('sha256').update(got).digest('hex'), opt.sha256, 'sha256 of the file')
  const types = t.wires.map((w) => w.type)
  log(`wires: ${JSON.stringify(types)}`)
  check(types.length > 0 && types.every((x) => x === 'webrtc'), `non-WebRTC wires: ${JSON.stringify(types)}`)
  check(t.received >= size, `received ${t.received} bytes, less than the file`)

  log('webtorrent_fetch: all checks passed')
  await Promise.race([new Promise((resolve) => client.destroy(resolve)), sleep(3000)])
  process.exit(0)
}

main().catch((err) => fail(err.stack || String(err)))
