// Two bittorrent-tracker clients announce one infohash to the node's tracker over one protocol
// (http, udp or ws) and must find each other, scrape must count them, /api/tracker must show
// them under that protocol, and `stop` must remove them again.
//
//   node tests/js/tracker_client.mjs --proto http|udp|ws --http 127.0.0.1:P --udp 127.0.0.1:U
//        --infohash HEX [--library] [--node-peer IP:PORT] [--foreign HEX]
//
// --library: the infohash is one of the node's library torrents, so the node counts itself as
// a seeder (and lists itself, at --node-peer) for HTTP and UDP clients, never for WebSocket ones.
// --foreign: an infohash the node does not track (library mode): an announce must be refused
// with a warning and a scrape must count nothing.
//
// Exits 0 when every check holds; otherwise prints `FAIL: reason` and exits 1.

import Client from 'bittorrent-tracker'
import * as wrtc from 'webrtc-polyfill'
import { args, check, checkEq, fail, getJson, log, next, overallTimeout, randomHex, sleep, until } from './lib.mjs'

const opt = args({
  proto: { type: 'string' },
  http: { type: 'string' },
  udp: { type: 'string' },
  infohash: { type: 'string' },
  library: { type: 'boolean', default: false },
  'node-peer': { type: 'string' },
  foreign: { type: 'string' }
})
const proto = opt.proto
check(['http', 'udp', 'ws'].includes(proto), `--proto must be http, udp or ws, not ${proto}`)
check(opt.http && opt.infohash, '--http and --infohash are required')
check(proto !== 'udp' || opt.udp, '--udp is required with --proto udp')
const infoHash = opt.infohash.toLowerCase()
overallTimeout(proto === 'ws' ? 120 : 60, `tracker_client ${proto}`)

const WAIT = 20_000
// The node seeds its library over BitTorrent: HTTP and UDP clients count it as a seeder.
const self = opt.library && proto !== 'ws' ? 1 : 0
const api = `http://${opt.http}/api/tracker`
// No STUN servers: WebRTC only between this machine's own addresses.
const rtcConfig = { iceServers: [] }

// bittorrent-tracker shares one WebSocket between clients of the same announce URL; a query
// string per client gives each its own connection, as separate browsers would have.
function announceUrl (tag) {
  switch (proto) {
    case 'http': return `http://${opt.http}/announce`
    case 'udp': return `udp://${opt.udp}`
    default: return `ws://${opt.http}/announce?client=${tag}`
  }
}

function makeClient (tag, { left, ih = infoHash }) {
  const port = 20000 + Math.floor(Math.random() * 40000)
  const c = new Client({
    infoHash: ih,
    peerId: randomHex(20),
    announce: [announceUrl(tag)],
    port,
    wrtc,
    rtcConfig,
    getAnnounceOpts: () => ({ left, uploaded: 0, downloaded: 0 })
  })
  c.tag = tag
  c.port = port
  c.peers = []
  c.warnings = []
  c.on('error', (err) => fail(`client ${tag}: error event: ${err.message}`))
  c.on('warning', (err) => {
    log(`client ${tag}: warning: ${err.message}`)
    c.warnings.push(err.message)
  })
  c.on('peer', (p) => {
    if (typeof p === 'string') {
      log(`client ${tag}: peer ${p}`)
    } else {
      log(`client ${tag}: WebRTC peer ${p.id}`)
      p.on('error', (err) => log(`client ${tag}: WebRTC peer error: ${err.message}`))
    }
    c.peers.push(p)
  })
  return c
}

async function announce (c, what, method, ...a) {
  const got = next(c, 'update', WAIT, `${what}: the tracker's announce reply to client ${c.tag}`)
  c[method](...a)
  const u = await got
  log(`client ${c.tag}: ${what}: complete ${u.complete}, incomplete ${u.incomplete}`)
  return u
}

async function scrape (c, what) {
  const got = next(c, 'scrape', WAIT, `${what}: the scrape reply to client ${c.tag}`)
  c.scrape()
  const s = await got
  log(`client ${c.tag}: scrape ${what}: complete ${s.complete}, incomplete ${s.incomplete}`)
  return { complete: s.complete, incomplete: s.incomplete }
}

/** This infohash's per-protocol counts in /api/tracker (null when the swarm is not listed). */
async function apiCounts () {
  const t = await getJson(api)
  const s = (t.torrents || []).find((x) => x.info_hash === infoHash)
  if (!s) return [null, t]
  const pick = (c) => ({ complete: c.complete, incomplete: c.incomplete })
  return [{ http: pick(s.http), udp: pick(s.udp), ws: pick(s.ws) }, t]
}

/** Waits until /api/tracker shows `want` {complete, incomplete} under `proto` and nothing elsewhere. */
async function expectApi (what, want) {
  const zero = { complete: 0, incomplete: 0 }
  const expected = { http: zero, udp: zero, ws: zero }
  expected[proto] = want
  await until(`${what}: /api/tracker counts ${JSON.stringify(expected)}`, 5000, async () => {
    const [got, whole] = await apiCounts()
    const ok = want === null
      ? got === null
      : got !== null && JSON.stringify(got) === JSON.stringify(expected)
    return [ok, got ?? whole]
  })
  log(`/api/tracker ${what}: ok`)
}

const addr = (c) => `127.0.0.1:${c.port}`

async function main () {
  log(`tracker_client: ${proto}, infohash ${infoHash}, library ${opt.library}`)
  const before = (await getJson(api)).stats

  // A seeds (left 0), B leeches; C only scrapes.
  const a = makeClient('a', { left: 0 })
  const b = makeClient('b', { left: 1000 })
  const c = makeClient('c', { left: 1000 })

  checkEq(await scrape(c, 'before any announce'), { complete: self, incomplete: 0 }, 'scrape before any announce')

  const ua = await announce(a, 'A started', 'start')
  checkEq([ua.complete, ua.incomplete], [1 + self, 0], 'A\'s announce reply (complete, incomplete)')
  const ub = await announce(b, 'B started', 'start')
  checkEq([ub.complete, ub.incomplete], [1 + self, 1], 'B\'s announce reply (complete, incomplete)')

  if (proto === 'ws') {
    // B's offer is relayed to A, A answers through the tracker, B gets the answer: both see
    // a WebRTC peer, and the data channel opens.
    await until('a WebRTC peer on both A and B', WAIT, async () =>
      [a.peers.length > 0 && b.peers.length > 0, { a: a.peers.length, b: b.peers.length }])
    const pa = a.peers[0]
    const pb = b.peers[0]
    checkEq(pa.id, b.peerId, 'the peer id A was offered a connection by')
    checkEq(pb.id, a.peerId, 'the peer id B got an answer from')
    // From here on the tracker has done its part; the words of this wait's failure are
    // known to tests/common/js.rs (again_on_client_race).
    const connected = (p, who) => p.connected ? null : next(p, 'connect', 40_000, `${who}'s WebRTC connection to open after the tracker relayed offer and answer`)
    await Promise.all([connected(pa, 'A'), connected(pb, 'B')])
    const got = next(pa, 'data', 10_000, 'a message over the WebRTC data channel from B to A')
    pb.send('hello over webrtc')
    const data = Buffer.from(await got).toString()
    checkEq(data, 'hello over webrtc', 'message from B to A')
    log('A and B connected over WebRTC and exchanged a message')
    checkEq(a.peers.length + b.peers.length, 2, 'WebRTC peers seen by A and B (no extra offers relayed)')
  } else {
    await sleep(50) // 'peer' events follow 'update' in the same tick
    check(b.peers.includes(addr(a)), `B was not given A (${addr(a)}): ${JSON.stringify(b.peers)}`)
    check(!b.peers.includes(addr(b)), `B was given itself: ${JSON.stringify(b.peers)}`)
    a.peers.length = 0
    await announce(a, 'A update', 'update')
    await sleep(50)
    check(a.peers.includes(addr(b)), `A was not given B (${addr(b)}) on its next announce: ${JSON.stringify(a.peers)}`)
    if (opt['node-peer']) {
      if (opt.library) {
        checkEq(b.peers[0], opt['node-peer'], 'first peer given to B (the node itself)')
        checkEq(a.peers[0], opt['node-peer'], 'first peer given to A (the node itself)')
      } else {
        check(!b.peers.includes(opt['node-peer']), `the node listed itself for a torrent it does not seed: ${JSON.stringify(b.peers)}`)
      }
    }
  }

  checkEq(await scrape(c, 'with A and B'), { complete: 1 + self, incomplete: 1 }, 'scrape with A seeding and B leeching')
  await expectApi('with A and B', { complete: 1, incomplete: 1 })
  const during = (await getJson(api))
  const counter = `announces_${proto}`
  check(during.stats[counter] >= before[counter] + 2,
    `/api/tracker stats.${counter} did not grow by 2: ${before[counter]} -> ${during.stats[counter]}`)
  if (proto === 'ws') {
    check(during.websocket_connections >= 3, `/api/tracker websocket_connections ${during.websocket_connections}, want >= 3`)
  }

  await announce(b, 'B stopped', 'stop')
  checkEq(await scrape(c, 'after B stopped'), { complete: 1 + self, incomplete: 0 }, 'scrape after B stopped')
  await expectApi('after B stopped', { complete: 1, incomplete: 0 })

  await announce(a, 'A stopped', 'stop')
  checkEq(await scrape(c, 'after A stopped'), { complete: self, incomplete: 0 }, 'scrape after A stopped')
  await expectApi('after A stopped (swarm gone)', null)

  if (opt.foreign) {
    const d = makeClient('d', { left: 1000, ih: opt.foreign.toLowerCase() })
    const refused = next(d, 'warning', WAIT, 'a refusal of an infohash outside the library',
      (err) => /library/.test(err.message))
    let replied = false
    d.on('update', () => { replied = true })
    d.start()
    const err = await refused
    log(`client d: refused as expected: ${err.message}`)
    check(!replied, 'the announce of a foreign infohash got an announce reply')
    const s = await scrape(d, 'foreign infohash')
    checkEq(s, { complete: 0, incomplete: 0 }, 'scrape of a foreign infohash')
    d.destroy()
    const t = await getJson(api)
    check(!(t.torrents || []).some((x) => x.info_hash === opt.foreign.toLowerCase()),
      `/api/tracker lists the refused infohash: ${JSON.stringify(t.torrents)}`)
  }

  for (const x of [a, b, c]) x.destroy()
  log(`tracker_client ${proto}: all checks passed`)
  // node-datachannel keeps native threads; exit explicitly.
  await sleep(200)
  process.exit(0)
}

main().catch((err) => fail(err.stack || String(err)))
