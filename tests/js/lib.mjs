// Small helpers shared by the test drivers: argument parsing, failing with a reason,
// waiting for events with a deadline, and an overall timeout.

import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'

export function args (options) {
  try {
    return parseArgs({ options, strict: true }).values
  } catch (err) {
    fail(`bad arguments: ${err.message}`)
  }
}

export function log (...parts) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...parts)
}

export function fail (reason) {
  console.error(`FAIL: ${reason}`)
  process.exit(1)
}

export function check (cond, reason) {
  if (!cond) fail(reason)
}

export function checkEq (got, want, what) {
  const g = JSON.stringify(got)
  const w = JSON.stringify(want)
  if (g !== w) fail(`${what}: got ${g}, want ${w}`)
}

/** Exits with a reason after `secs`, whatever is still pending. */
export function overallTimeout (secs, what) {
  const t = setTimeout(() => fail(`${what}: overall timeout of ${secs} s`), secs * 1000)
  t.unref()
}

/** Resolves with the first `event` of `emitter` that `filter` accepts, or fails after `ms`. */
export function next (emitter, event, ms, what, filter = () => true) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, on)
      fail(`timed out after ${ms} ms waiting for ${what}`)
    }, ms)
    function on (...a) {
      if (!filter(...a)) return
      clearTimeout(timer)
      emitter.removeListener(event, on)
      resolve(a[0])
    }
    emitter.on(event, on)
  })
}

export function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function randomHex (n) {
  return randomBytes(n).toString('hex')
}

/** Polls `probe` (async, returns [ok, detail]) every 100 ms until ok, or fails after `ms`. */
export async function until (what, ms, probe) {
  const deadline = Date.now() + ms
  let last = '(never checked)'
  while (Date.now() < deadline) {
    const [ok, detail] = await probe()
    if (ok) return detail
    last = detail
    await sleep(100)
  }
  fail(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`)
}

export async function getJson (url) {
  const r = await fetch(url)
  if (r.status !== 200) fail(`GET ${url}: status ${r.status}`)
  return r.json()
}

// Debian's Chromium headless, as every browser test starts it: no sandbox (root in CI), no
// GPU, no QUIC, and none of its own network chatter.
export const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
