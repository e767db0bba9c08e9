// Many WebTorrent tracker sockets from Node's `ws` (the WebSocket under bittorrent-tracker in
// Node, which offers permessage-deflate as browsers do), for benches/ws_deflate_bench.py.
//
// Each socket announces once with OFFERS offers, answers every offer relayed to it, and is
// held open. The SDPs are shaped as Chromium writes them for a data channel, with their
// random parts (session id, ICE credentials, certificate fingerprint, host candidate) drawn
// for each, so they compress as real ones do. Prints `READY <open> <offers> <answers>` once
// every socket has announced and the relaying has settled, then holds until stdin closes.
//
//   node ws_deflate.mjs --tracker ws://127.0.0.1:8080/announce --conns 1000 --deflate on
import WebSocket from 'ws'
import { randomBytes, randomInt } from 'node:crypto'

const arg = (name, dflt) => {
  const a = process.argv.find(a => a.startsWith(`--${name}=`))
  if (a) return a.slice(name.length + 3)
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const tracker = arg('tracker')
const conns = Number(arg('conns', '1000'))
const offersEach = Number(arg('offers', '5'))
const swarms = Number(arg('swarms', '10'))
const deflate = arg('deflate', 'on') === 'on'

const binary = n => String.fromCharCode(...randomBytes(n))
const hex = n => [...randomBytes(n)].map(b => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
const alnum = n => randomBytes(n).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, n)
const uuid = () => {
  const h = randomBytes(16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
const sdp = setup => [
  'v=0',
  `o=- ${randomInt(1e9, 2 ** 47)}${randomInt(1e5, 1e6)} 2 IN IP4 127.0.0.1`,
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  `a=candidate:${randomInt(1e9, 4e9)} 1 udp 2113937151 ${uuid()}.local ${randomInt(32768, 61000)} typ host generation 0 network-cost 999`,
  `a=ice-ufrag:${alnum(4)}`,
  `a=ice-pwd:${alnum(24)}`,
  'a=ice-options:trickle',
  `a=fingerprint:sha-256 ${hex(32)}`,
  `a=setup:${setup}`,
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  ''
].join('\r\n')

const hashes = Array.from({ length: swarms }, () => binary(20))
let open = 0; let announced = 0; let offersIn = 0; let answersIn = 0; let lastEvent = Date.now()
const sockets = []

function connect (i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(tracker, { perMessageDeflate: deflate })
    const peerId = '-WW0001-' + alnum(12)
    const infoHash = hashes[i % swarms]
    ws.on('error', reject)
    ws.on('open', () => {
      open++
      sockets.push(ws)
      const offers = Array.from({ length: offersEach }, () => ({
        offer: { type: 'offer', sdp: sdp('actpass') },
        offer_id: binary(20)
      }))
      ws.send(JSON.stringify({
        action: 'announce', info_hash: infoHash, peer_id: peerId, numwant: offersEach,
        uploaded: 0, downloaded: 0, left: 1000, event: 'started', offers
      }))
      resolve()
    })
    ws.on('message', data => {
      lastEvent = Date.now()
      let m
      try { m = JSON.parse(data) } catch { return }
      if (m.offer) {
        offersIn++
        ws.send(JSON.stringify({
          action: 'announce', info_hash: infoHash, peer_id: peerId, to_peer_id: m.peer_id,
          offer_id: m.offer_id, answer: { type: 'answer', sdp: sdp('active') }
        }))
      } else if (m.answer) {
        answersIn++
      } else if (m.interval) {
        announced++
      }
    })
  })
}

for (let i = 0; i < conns; i++) {
  await connect(i)
  // The tracker's flood and connection limits are per address; all of these are one.
  if (i % 50 === 49) await new Promise(resolve => setTimeout(resolve, 20))
}
// Settled: every socket has its reply, and nothing has come for two seconds.
while (announced < conns || Date.now() - lastEvent < 2000) {
  await new Promise(resolve => setTimeout(resolve, 200))
}
console.log(`READY ${open} ${offersIn} ${answersIn}`)
process.stdin.resume()
process.stdin.on('end', () => {
  for (const ws of sockets) ws.terminate()
  process.exit(0)
})
