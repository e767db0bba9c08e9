// A WebTorrent client in Node that reaches peers only over WebRTC, as a browser does: no
// DHT, local discovery, uTP, PEX, port mapping or web seeds, so every byte it gets came
// through the WebSocket tracker's signalling and a data channel.

import WebTorrent from 'webtorrent'
import * as wrtc from 'webrtc-polyfill'
import { fail } from './lib.mjs'

export function webrtcClient (tag) {
  const client = new WebTorrent({
    dht: false,
    lsd: false,
    utp: false,
    utPex: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    // No STUN servers: WebRTC only between this machine's own addresses.
    tracker: { wrtc, rtcConfig: { iceServers: [] } }
  })
  client.on('error', (err) => fail(`${tag}: ${err.message || err}`))
  return client
}
