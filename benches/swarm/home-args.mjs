// What lab.py tells each home, whichever kind (home.mjs: Chromium; light.mjs: Node.js): the
// node's address, each listener's plan (when it joins and leaves, whether it uploads) and the
// run's length; the home gives up two minutes after that.
//   --base=URL --plan='[{"join":0,"leave":90,"upload":true},...]' --seconds=S

import { args, check, overallTimeout } from '../../tests/js/lib.mjs'

export function homeArgs (what) {
  const opts = args({
    base: { type: 'string' },
    plan: { type: 'string' },
    seconds: { type: 'string' }
  })
  check(opts.base && opts.plan && opts.seconds, 'need --base --plan --seconds')
  const seconds = Number(opts.seconds)
  overallTimeout(seconds + 120, what)
  return { base: opts.base, plan: JSON.parse(opts.plan), seconds }
}
