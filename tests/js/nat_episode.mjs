// One of two listeners sharing an episode over WebRTC alone, each in its own network
// namespace behind its own home router. Run with --role seed first: it takes the episode's
// .torrent from the node, the file itself over HTTP (as a browser plays it from the web
// seed), checks it against the torrent and seeds it. Then --role fetch, elsewhere: it fetches
// the episode by its infohash from peers alone (no web seed, no TCP tracker). Both torrents
// name only the node's WebSocket tracker and the clients have no DHT, LSD, uTP, PEX or web
// seeds, so with the node's own WebRTC peer off the fetcher's only source is the seeder.
//
//   node tests/js/nat_episode.mjs --role seed|fetch --node http://HOST:PORT --infohash HEX
//        --ice stun:HOST:PORT [--sha256 HEX] [--size N]
//
// The seeder prints its result once it has uploaded a whole file's worth and seeds on until
// it is stopped; the fetcher exits 0 once it holds bytes with the given sha256. Each prints
// `result {...}`, with its wires' remote addresses.

import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bencode from 'bencode'
import { args, check, checkEq, fail, log, next, overallTimeout } from './lib.mjs'
import { webrtcClient } from './webrtc_client.mjs'

const opt = args({
  role: { type: 'string' },
  node: { type: 'string' },
  infohash: { type: 'string' },
  ice: { type: 'string' },
  sha256: { type: 'string' },
  size: { type: 'string' }
})
check(['seed', 'fetch'].includes(opt.role) && opt.node && opt.infohash, 'need --role --node --infohash')
overallTimeout(100, `nat_episode ${opt.role}`)
const iceServers = opt.ice ? [{ urls: opt.ice }] : []
const tracker = `${opt.node.replace(/^http:/, 'ws:')}/announce`
const sha = (b) => createHash('sha256').update(b).digest('hex')
const work = mkdtempSync(join(tmpdir(), 'streamp2p-nat-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

async function get (url) {
  const r = await fetch(url)
  if (r.status !== 200) fail(`GET ${url}: status ${r.status}`)
  return Buffer.from(await r.arrayBuffer())
}

const wires = (t) => t.wires.map((w) => ({ type: w.type, remoteAddress: w.remoteAddress }))

async function seed () {
  // The node's torrent with its trackers and web seed replaced by the WebSocket tracker
  // alone: the info dict, and so the infohash, stay the node's.
  const meta = bencode.decode(await get(`${opt.node}/t/${opt.infohash}.torrent`))
  const name = Buffer.from(meta.info.name).toString()
  const file = await get(`${opt.node}/files/${opt.infohash}/${encodeURIComponent(name)}`)
  mkdirSync(join(work, 'a'), { recursive: true })
  writeFileSync(join(work, 'a', name), file)
  delete meta['url-list']
  meta.announce = Buffer.from(tracker)
  meta['announce-list'] = [[Buffer.from(tracker)]]
  const client = webrtcClient('seeder', iceServers)
  const t = client.add(bencode.encode(meta), { path: join(work, 'a') })
  await next(t, 'done', 30_000, 'the seeder to check its copy')
  checkEq(t.infoHash, opt.infohash, 'infohash of the seeded torrent')
  log(`seeding ${name}, ${file.length} bytes, sha256 ${sha(file)}`)
  console.log('seeding')
  // Bytes counted as uploaded may still be in flight (or sent twice at the end), so the
  // seeder says its result once it has sent a whole file's worth and seeds on until the
  // test stops it, after the fetcher has checked what it got.
  // Said as the bytes go (stdout is a file: written at once), so it is there before the
  // fetcher can have them all.
  const sent = () => {
    if (t.uploaded < file.length) return
    t.removeListener('upload', sent)
    console.log(`result ${JSON.stringify({ uploaded: t.uploaded, size: file.length, wires: wires(t) })}`)
  }
  t.on('upload', sent)
  setInterval(() => log(`seeder: ${t.numPeers} peers, ${t.uploaded} bytes uploaded`), 1000)
}

async function fetchIt () {
  check(opt.sha256 && opt.size, 'fetch needs --sha256 --size')
  const size = Number(opt.size)
  const client = webrtcClient('fetcher', iceServers)
  const magnet = `magnet:?xt=urn:btih:${opt.infohash}&tr=${encodeURIComponent(tracker)}`
  const t = client.add(magnet, { path: join(work, 'b'), announce: [] })
  t.on('wire', (w) => log(`fetcher: wire ${w.type} from ${w.remoteAddress}`))
  const tick = setInterval(() => log(`fetcher: ${t.numPeers} peers, ${t.received} bytes received`), 5000)
  tick.unref()
  await next(t, 'done', 90_000, 'the fetcher to finish')
  clearInterval(tick)
  checkEq(t.urlList ?? [], [], 'web seeds of the fetched torrent')
  const got = Buffer.from(await t.files[0].arrayBuffer())
  checkEq(got.length, size, 'length of the fetched file')
  checkEq(sha(got), opt.sha256, 'sha256 of the fetched file')
  const ws = wires(t)
  check(ws.length > 0 && ws.every((w) => w.type === 'webrtc'), `non-WebRTC wires: ${JSON.stringify(ws)}`)
  check(t.received >= size, `received ${t.received} bytes, less than the file`)
  console.log(`result ${JSON.stringify({ received: t.received, wires: ws })}`)
  process.exit(0)
}

(opt.role === 'seed' ? seed() : fetchIt()).catch((err) => fail(err.stack || String(err)))
