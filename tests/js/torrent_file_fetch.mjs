// A webtorrent 2.8 client in Node given a .torrent file fetches it whole, from whatever the
// file names: its trackers (TCP peers) and its web seeds (`url-list`). Used for failover:
// the torrent came from a node that is gone, and its mirrors must be enough.
//
//   node tests/js/torrent_file_fetch.mjs --torrent FILE --sha256 HEX
//
// Prints "ok" and where the bytes came from when the sha256 matches; "FAIL: reason" otherwise.

import WebTorrent from 'webtorrent'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { args, check, checkEq, fail, log, next, overallTimeout } from './lib.mjs'

const opt = args({ torrent: { type: 'string' }, sha256: { type: 'string' } })
check(opt.torrent && /^[0-9a-f]{64}$/.test(opt.sha256 ?? ''), 'need --torrent FILE --sha256 HEX')
overallTimeout(170, 'torrent_file_fetch')
const work = mkdtempSync(join(tmpdir(), 'streamp2p-torrent-fetch-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

const client = new WebTorrent({ dht: false, lsd: false, utPex: false, natUpnp: false, natPmp: false })
client.on('error', (e) => fail(`client: ${e.message || e}`))
const t = client.add(readFileSync(opt.torrent), { path: work })
const sources = new Set()
t.on('wire', (w) => { sources.add(w.type); log(`wire ${w.type} ${w.remoteAddress ?? ''}`) })
t.on('warning', (e) => log(`warning: ${e.message || e}`))
// A web seed that is gone can hold its requests until webtorrent's 60 s socket timeout, so
// the wait allows for that; every 10 s the log says where each wire stands, so a stalled
// download shows which seed held it.
const progress = setInterval(() => {
  const wires = t.wires.map((w) => `${w.type} ${w.url ?? w.remoteAddress ?? ''} requests=${w.requests.length} down=${w.downloaded}`)
  log(`progress ${(t.progress * 100).toFixed(0)} %; ${wires.join('; ')}`)
}, 10000)
progress.unref()
await next(t, 'done', 160000, 'the download to finish')
const file = t.files[0]
const bytes = readFileSync(join(work, file.path))
checkEq(createHash('sha256').update(bytes).digest('hex'), opt.sha256, 'sha256 of the file')
console.log(JSON.stringify({ sources: [...sources], bytes: bytes.length }))
console.log('ok')
client.destroy()
process.exit(0)
