// Listeners serve each other before the station: webtorrent 2.8 clients in Node fetch one
// library file of the node, one after another, over WebRTC alone (a magnet with only the
// node's ws:// tracker, no web seed, DHT, LSD, uTP or PEX). Client 1 is alone, so every byte
// comes from the node; each later client joins while the earlier ones stay connected and
// seeding, and should take most of the file from them.
//
//   node tests/js/webtorrent_share.mjs --tracker ws://HOST:P/announce --infohash HEX \
//        --sha256 HEX --size BYTES [--clients 2] [--min-from-peers 0.75] [--max-node 0.25] \
//        [--max-link 0.5] [--no-check]
//
// Per client it counts the bytes each wire delivered, by who sent them (the node's peer id
// starts with -SP), the node's own count of WebRTC upload (/api/health) and, when run in a
// network namespace of its own, the bytes that came in over its links (`/sys/class/net/*/
// statistics/rx_bytes` but lo: traffic from the node, while clients reach each other on the
// same address through lo). Prints one JSON line with the figures; then, unless --no-check,
// exits 0 only if every file matched, client 1 got everything from the node, and each later
// client got at least --min-from-peers of the file from other clients while the node uploaded
// at most --max-node of it (its own count) and the links carried at most --max-link of it.

import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { args, check, checkEq, fail, getJson, log, next, overallTimeout, sleep } from './lib.mjs'
import { webrtcClient } from './webrtc_client.mjs'

const opt = args({
  tracker: { type: 'string' },
  infohash: { type: 'string' },
  name: { type: 'string', default: 'file' },
  sha256: { type: 'string' },
  size: { type: 'string' },
  clients: { type: 'string', default: '2' },
  'min-from-peers': { type: 'string', default: '0.75' },
  'max-node': { type: 'string', default: '0.25' },
  'max-link': { type: 'string', default: '0.5' },
  'no-check': { type: 'boolean', default: false }
})
check(opt.tracker && opt.tracker.startsWith('ws://'), '--tracker ws://HOST:PORT/announce is required')
check(/^[0-9a-f]{40}$/.test(opt.infohash ?? ''), '--infohash (40 hex digits) is required')
check(/^[0-9a-f]{64}$/.test(opt.sha256 ?? ''), '--sha256 (64 hex digits) is required')
const size = Number(opt.size)
check(Number.isInteger(size) && size > 0, `bad --size ${opt.size}`)
const clients = Number(opt.clients)
check(Number.isInteger(clients) && clients >= 1 && clients <= 16, `bad --clients ${opt.clients}`)
overallTimeout(60 + 60 * clients, 'webtorrent_share')

const health = opt.tracker.replace(/^ws:/, 'http:').replace(/\/announce.*$/, '/api/health')
const magnet = `magnet:?xt=urn:btih:${opt.infohash}&dn=${encodeURIComponent(opt.name)}&tr=${encodeURIComponent(opt.tracker)}`
const work = mkdtempSync(join(tmpdir(), 'streamp2p-webtorrent-share-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

const isNode = (wire) => Buffer.from(wire.peerId ?? '', 'hex').toString('latin1').startsWith('-SP')

async function nodeUploaded () {
  const h = await getJson(health)
  return h.webtorrent.uploaded_bytes
}

/** Bytes received on every link but loopback, as this network namespace counts them. */
function linkRx () {
  let sum = 0
  for (const dev of readdirSync('/sys/class/net')) {
    if (dev === 'lo') continue
    sum += Number(readFileSync(`/sys/class/net/${dev}/statistics/rx_bytes`, 'utf8'))
  }
  return sum
}

async function fetchOne (k, torrents) {
  const client = webrtcClient(`client ${k}`)
  const before = { node: await nodeUploaded(), link: linkRx() }
  const from = { node: 0, peers: 0 }
  const t = client.add(magnet, { path: join(work, String(k)) })
  t.on('warning', (err) => log(`client ${k} warning: ${err.message || err}`))
  t.on('wire', (wire) => {
    wire.on('download', (n) => { from[isNode(wire) ? 'node' : 'peers'] += n })
  })
  const started = Date.now()
  const done = next(t, 'done', 60_000, `client ${k} to finish the download`)
  const progress = setInterval(() => {
    log(`client ${k}: ${t.numPeers} peers, ${from.node} bytes from the node, ${from.peers} from peers`)
  }, 5000)
  progress.unref()
  await done
  clearInterval(progress)
  const secs = (Date.now() - started) / 1000
  const got = Buffer.from(await t.files[0].arrayBuffer())
  checkEq(got.length, size, `length of client ${k}'s file`)
  checkEq(createHash('sha256').update(got).digest('hex'), opt.sha256, `sha256 of client ${k}'s file`)
  checkEq(t.urlList ?? [], [], `web seeds of client ${k}`)
  const types = t.wires.map((w) => w.type)
  check(types.every((x) => x === 'webrtc'), `client ${k} had non-WebRTC wires: ${JSON.stringify(types)}`)
  const r = {
    client: k,
    secs,
    from_node: from.node,
    from_peers: from.peers,
    node_uploaded: (await nodeUploaded()) - before.node,
    link_rx: linkRx() - before.link,
    peers_at_end: t.numPeers
  }
  log(`client ${k} done in ${secs.toFixed(1)} s: ${JSON.stringify(r)}`)
  torrents.push({ client, t })
  return r
}

async function main () {
  log(`webtorrent_share: ${clients} clients, ${size} bytes, ${magnet}`)
  const torrents = []
  const results = []
  for (let k = 1; k <= clients; k++) {
    results.push(await fetchOne(k, torrents))
  }
  console.log(JSON.stringify({ size, clients, results }))

  if (!opt['no-check']) {
    const [first, ...later] = results
    checkEq(first.from_peers, 0, 'bytes client 1 got from other clients (it was alone)')
    check(first.from_node >= size, `client 1 got ${first.from_node} bytes from the node, less than the file`)
    for (const r of later) {
      const share = (x) => (x / size).toFixed(3)
      check(r.from_peers >= Number(opt['min-from-peers']) * size,
        `client ${r.client} got only ${share(r.from_peers)} of the file from other clients`)
      check(r.node_uploaded <= Number(opt['max-node']) * size,
        `the node uploaded ${share(r.node_uploaded)} of the file for client ${r.client}`)
      check(r.link_rx <= Number(opt['max-link']) * size,
        `the links carried ${share(r.link_rx)} of the file to client ${r.client}`)
    }
    log('webtorrent_share: all checks passed')
  }
  await Promise.race([
    Promise.all(torrents.map(({ client }) => new Promise((resolve) => client.destroy(resolve)))),
    sleep(3000)
  ])
  process.exit(0)
}

main().catch((err) => fail(err.stack || String(err)))
