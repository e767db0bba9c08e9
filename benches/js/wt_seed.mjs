// Bench seeder: webtorrent 2.8.5 in Node seeds an existing file from a .torrent (the node's own,
// url-list removed, announce = the ws:// tracker only), WebRTC only. Prints "SEEDING <infohash>"
// once the file is verified, then stays until killed (or --secs).
import WebTorrent from 'webtorrent'
import * as wrtc from 'webrtc-polyfill'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({ options: {
  torrent: { type: 'string' }, dir: { type: 'string' }, tracker: { type: 'string' }, secs: { type: 'string', default: '900' } } })
setTimeout(() => process.exit(0), Number(opt.secs) * 1000)
const client = new WebTorrent({ dht: false, lsd: false, utp: false, utPex: false, natUpnp: false, natPmp: false,
  webSeeds: false, tracker: { wrtc, rtcConfig: { iceServers: [] } } })
client.on('error', (e) => { console.log('ERROR', e.message || e); process.exit(1) })
const t = client.add(readFileSync(opt.torrent), { path: opt.dir, announce: [opt.tracker] })
t.on('warning', (e) => console.log('warning', e.message || e))
t.on('wire', (w) => console.log('wire', w.type))
t.on('upload', () => {})
const iv = setInterval(() => {
  if (t.ready && t.progress === 1 && !t._seedingPrinted) {
    t._seedingPrinted = true
    console.log(`SEEDING ${t.infoHash} announce=${JSON.stringify(t.announce)} urlList=${JSON.stringify(t.urlList)}`)
  }
}, 50)
iv.unref?.()
setInterval(() => {}, 1 << 30)
