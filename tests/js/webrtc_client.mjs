// A WebTorrent client in Node that reaches peers only over WebRTC, as a browser does: no
// DHT, local discovery, uTP, PEX, port mapping or web seeds, so every byte it gets came
// through the WebSocket tracker's signalling and a data channel.

import WebTorrent from 'webtorrent'
import * as wrtc from 'webrtc-polyfill'
import { fail } from './lib.mjs'

// `iceServers`: none by default (WebRTC only between this machine's own addresses).
export function webrtcClient (tag, iceServers = []) {
  const client = new WebTorrent({
    dht: false,
    lsd: false,
    utp: false,
    utPex: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    tracker: { wrtc, rtcConfig: { iceServers } }
  })
  client.on('error', (err) => fail(`${tag}: ${err.message || err}`))
  return client
}
