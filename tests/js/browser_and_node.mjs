// A browser listener and a Node webtorrent client fetch the same episode with no web seed:
// the browser (listen page in Chromium) gets it from the node over WebRTC and then shares
// it; the Node client, connected to both, must get most of it from the browser: the node
// shows a listener only the pieces no other connected listener has (src/webtorrent/share.rs).
//
//   node tests/js/browser_and_node.mjs --base http://127.0.0.1:P --infohash HEX --title T

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { args, check, log, next, overallTimeout, sleep } from './lib.mjs'
import { phone } from './phone.mjs'
import { webrtcClient } from './webrtc_client.mjs'

const opt = args({ base: { type: 'string' }, infohash: { type: 'string' }, title: { type: 'string' } })
check(opt.base && opt.infohash && opt.title, 'need --base --infohash --title')
overallTimeout(150, 'browser_and_node')
// The node's WebRTC peer id starts with "-SP0100-"; webtorrent shows ids in hex.
const NODE_ID_PREFIX = Buffer.from('-SP0100-').toString('hex')
const tracker = `${opt.base.replace('http://', 'ws://')}/announce`

const work = mkdtempSync(join(tmpdir(), 'streamp2p-node-client-'))
const { context, close } = await phone({ autoplay: true })
try {
  const page = await context.newPage()
  await page.goto(`${opt.base}/?webseed=0`)
  await page.getByRole('button', { name: `Play ${opt.title}` }).click()
  const deadline = Date.now() + 60_000
  let progress = 0
  while (Date.now() < deadline && progress < 1) {
    progress = await page.evaluate(() => window.streamp2p?.client.torrents[0]?.progress ?? 0)
    await sleep(250)
  }
  check(progress === 1, `the browser has ${progress} of the episode`)
  log('browser has the whole episode; starting the Node client')

  const client = webrtcClient('client')
  // No piece is asked for until both the node and the browser are connected (or 40 s have
  // gone), so the download is spread over both: a first WebRTC connection to the browser can
  // fail on a loaded machine, and the next offer comes at the tracker's next interval.
  const t = client.add(`magnet:?xt=urn:btih:${opt.infohash}&tr=${encodeURIComponent(tracker)}`,
    { path: work, deselect: true })
  t.on('wire', w => log(`wire ${w.type} ${w.peerId}`))
  const both = new Promise(resolve => {
    const check2 = () => { if (t.wires.length >= 2) resolve() }
    t.on('wire', check2)
  })
  await Promise.race([both, sleep(40_000)])
  if (!t.ready) await next(t, 'ready', 30_000, 'the episode\'s metadata')
  log(`asking for pieces with ${t.wires.length} peers`)
  const done = next(t, 'done', 90_000, 'the Node client to finish')
  t.select(0, t.pieces.length - 1)
  await done
  const byPeer = t.wires.map(w => ({ id: w.peerId, node: w.peerId.startsWith(NODE_ID_PREFIX), got: w.downloaded }))
  log('wires', JSON.stringify(byPeer))
  const fromBrowser = byPeer.filter(w => !w.node).reduce((a, w) => a + w.got, 0)
  const fromNode = byPeer.filter(w => w.node).reduce((a, w) => a + w.got, 0)
  check(t.wires.every(w => w.type === 'webrtc'), 'a non-WebRTC wire')
  check(fromBrowser > 0, `nothing came from the browser (node gave ${fromNode})`)
  check(fromBrowser >= 0.75 * (fromBrowser + fromNode),
    `the node gave ${fromNode} bytes, the browser only ${fromBrowser}: the node should leave them to the browser`)
  log(`ok: ${fromBrowser} bytes from the browser, ${fromNode} from the node`)
  await Promise.race([new Promise(resolve => client.destroy(resolve)), sleep(3000)])
} finally {
  await close()
  rmSync(work, { recursive: true, force: true })
}
process.exit(0)
