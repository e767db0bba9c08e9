// Bench fetcher: one webtorrent 2.8.5 client fetches a magnet (only a ws:// tracker) over
// WebRTC alone and prints one JSON line: {add_ms, metadata_ms, first_byte_ms, done_ms, bytes, wires}.
// With --hold SECS it stays connected (seeding, idle) that long after the download.
import WebTorrent from 'webtorrent'
import * as wrtc from 'webrtc-polyfill'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({ options: {
  tracker: { type: 'string' }, infohash: { type: 'string' }, name: { type: 'string', default: 'file' },
  size: { type: 'string' }, hold: { type: 'string', default: '0' }, timeout: { type: 'string', default: '120' } } })
const size = Number(opt.size)
const kill = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(1) }, Number(opt.timeout) * 1000)
const work = mkdtempSync(join(tmpdir(), 'streamp2p-bench-wtfetch-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))
const client = new WebTorrent({ dht: false, lsd: false, utp: false, utPex: false, natUpnp: false, natPmp: false,
  webSeeds: false, tracker: { wrtc, rtcConfig: { iceServers: [] } } })
client.on('error', (e) => { console.log(JSON.stringify({ error: String(e.message || e) })); process.exit(1) })
const t0 = performance.now()
const magnet = `magnet:?xt=urn:btih:${opt.infohash}&dn=${encodeURIComponent(opt.name)}&tr=${encodeURIComponent(opt.tracker)}`
const t = client.add(magnet, { path: work })
const r = { add_ms: 0 }
t.on('wire', () => { if (r.wire_ms === undefined) r.wire_ms = performance.now() - t0 })
t.on('metadata', () => { r.metadata_ms = performance.now() - t0 })
t.on('download', () => { if (r.first_byte_ms === undefined) r.first_byte_ms = performance.now() - t0 })
t.on('done', async () => {
  r.done_ms = performance.now() - t0
  r.bytes = t.received
  r.length = t.length
  r.wires = t.wires.map((w) => w.type)
  r.ok = t.length === size && r.wires.every((x) => x === 'webrtc')
  console.log(JSON.stringify(r))
  const hold = Number(opt.hold)
  if (hold > 0) { clearTimeout(kill); await new Promise((res) => setTimeout(res, hold * 1000)) }
  await Promise.race([new Promise((res) => client.destroy(res)), new Promise((res) => setTimeout(res, 3000))])
  process.exit(r.ok ? 0 : 1)
})
