#!/usr/bin/env bash
# Lighthouse 12.2.3 (issue 14) on the listen page and the config page's dashboard, in Spanish
# (Accept-Language: es), mobile preset (Lighthouse's default: a mid-range phone on slow 4G,
# simulated), with Debian's Chromium: accessibility, best-practices and performance scores.
#   benches/lighthouse.sh                            # builds the release binary of this tree
#   BIN=/tmp/bins/streamp2p-515858c benches/lighthouse.sh   # another build ("before")
#   RUNS=3 (median of the runs per page)   OUT=name (results/name.txt)
# Lighthouse is installed with npm into a prefix of its own (LIGHTHOUSE_PREFIX, default
# ~/.cache/streamp2p/lighthouse-12.2.3), never into the repository's package.json. The node
# listens on 127.0.0.1 only.
GIVEN_BIN=${BIN:-}
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-3}
LH_VERSION=12.2.3
LIGHTHOUSE_PREFIX=${LIGHTHOUSE_PREFIX:-$HOME/.cache/streamp2p/lighthouse-$LH_VERSION}
need node nodejs
need npm npm
need chromium chromium
need curl curl
need ffmpeg ffmpeg
if [ -n "$GIVEN_BIN" ]; then BIN=$GIVEN_BIN; else build; fi
LH="$LIGHTHOUSE_PREFIX/node_modules/.bin/lighthouse"
if [ ! -x "$LH" ]; then
    echo "[bench] installing lighthouse@$LH_VERSION into $LIGHTHOUSE_PREFIX" >&2
    mkdir -p "$LIGHTHOUSE_PREFIX"
    npm install --prefix "$LIGHTHOUSE_PREFIX" --no-audit --no-fund --loglevel=error "lighthouse@$LH_VERSION" >&2
fi
make_work lighthouse
OUT="$RESULTS/${OUT:-lighthouse}.txt"

# A station as the guide describes it: three episodes, the live input on air (a test tone).
mkdir -p "$WORK/lib"
for t in "Programa de la mañana" "Tertulia del barrio" "Conciertos"; do
    ffmpeg -v error -nostdin -f lavfi -i sine=frequency=440:duration=20 -metadata title="$t" \
        -metadata artist="Radio Vallekas" "$WORK/lib/$t.mp3"
done
printf 'audio = "sine"\n[scan]\nrescan_secs = 5\n[swarm]\ndht = false\nlsd = false\n' > "$WORK/config.toml"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port); PEER=$(port); UDP=$(port)
"$BIN" run --data-dir "$WORK/data" --library "$WORK/lib" --http "127.0.0.1:$HTTP" \
    --peer-port "$PEER" --udp-tracker "127.0.0.1:$UDP" --stun off --config "$WORK/config.toml" \
    > "$WORK/node.log" 2>&1 &
NODE_PID=$!
trap 'kill $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT
BASE="http://127.0.0.1:$HTTP"
for _ in $(seq 300); do
    curl -fsS "$BASE/api/health" 2>/dev/null | grep -q '"items":3' && break
    sleep 0.2
done
curl -fsS "$BASE/api/health" | grep -q '"items":3' || { echo "node not ready; see $WORK/node.log" >&2; exit 1; }

# The first run with curl, as the page's form would post it; the session cookie it sets is
# sent by Lighthouse with every request of the dashboard.
JAR="$WORK/cookies"
TOKEN=$(curl -fsS -c "$JAR" -H 'Accept-Language: es' "$BASE/admin?step=password" \
    | grep -o 'name="form_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
[ -n "$TOKEN" ] || { echo "no first-run password step at $BASE/admin?step=password" >&2; exit 1; }
curl -fsS -o /dev/null -b "$JAR" -c "$JAR" -H 'Accept-Language: es' \
    --data-urlencode "form_token=$TOKEN" --data-urlencode "password=correct horse battery" \
    --data-urlencode "password2=correct horse battery" --data-urlencode "station_name=Radio Vallekas" \
    --data-urlencode "station_description=Radio libre de barrio: música, debates y programas." \
    --data-urlencode "station_language=es" "$BASE/admin/setup"
SESSION=$(awk '$6 == "sp2p_session" { print $7 }' "$JAR")
[ -n "$SESSION" ] || { echo "the first run gave no session cookie" >&2; exit 1; }
printf '{"Accept-Language":"es"}' > "$WORK/h-listen.json"
printf '{"Accept-Language":"es","Cookie":"sp2p_session=%s"}' "$SESSION" > "$WORK/h-admin.json"

# lighthouse URL HEADERS NAME RUN: one run's report, as JSON.
run_lh() {
    CHROME_PATH=/usr/bin/chromium "$LH" "$1" --quiet --extra-headers="$2" \
        --chrome-flags="--headless=new --no-sandbox" \
        --only-categories=accessibility,best-practices,performance \
        --output=json --output-path="$WORK/$3-$4.json" >&2
}
{
    machine
    echo "binary: $BIN ($("$BIN" --version 2>/dev/null || true))"
    echo "lighthouse: $("$LH" --version), chromium: $(/usr/bin/chromium --version 2>/dev/null)"
    echo "uptime: $(uptime)"
} > "$OUT"
for page in listen admin; do
    url="$BASE/"; [ "$page" = admin ] && url="$BASE/admin"
    for r in $(seq "$RUNS"); do run_lh "$url" "$WORK/h-$page.json" "$page" "$r"; done
done
node - "$WORK" "$RUNS" >> "$OUT" <<'EOF'
const [work, runs] = process.argv.slice(2)
const fs = require('fs')
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
for (const page of ['listen', 'admin']) {
  const reports = []
  for (let r = 1; r <= Number(runs); r++) reports.push(JSON.parse(fs.readFileSync(`${work}/${page}-${r}.json`)))
  const score = (cat) => reports.map((j) => Math.round(j.categories[cat].score * 100))
  const line = ['accessibility', 'best-practices', 'performance']
    .map((c) => `${c} ${median(score(c))} (${score(c).join(', ')})`).join('; ')
  console.log(`${page}: ${line}`)
  // What cost points, from the median-ish last run: failed audits with a weight.
  const j = reports[reports.length - 1]
  for (const cat of ['accessibility', 'best-practices', 'performance']) {
    const failed = j.categories[cat].auditRefs
      .filter((a) => a.weight > 0 && j.audits[a.id].score !== null && j.audits[a.id].score < 0.9)
      .map((a) => `${a.id}=${j.audits[a.id].score}${j.audits[a.id].displayValue ? ` (${j.audits[a.id].displayValue})` : ''}`)
    if (failed.length) console.log(`  ${page} ${cat} lost on: ${failed.join(', ')}`)
  }
  const m = (id) => j.audits[id] && j.audits[id].displayValue
  console.log(`  ${page} metrics: FCP ${m('first-contentful-paint')}, LCP ${m('largest-contentful-paint')}, TBT ${m('total-blocking-time')}, CLS ${m('cumulative-layout-shift')}, SI ${m('speed-index')}`)
  // Bytes on the wire for a first visit (transfer sizes: compressed where it was), issue 15.
  const items = j.audits['network-requests'].details.items
  const sum = (f) => items.reduce((n, i) => n + (f(i) || 0), 0)
  console.log(`  ${page} first visit: ${items.length} requests, ${sum((i) => i.transferSize)} bytes transferred, ${sum((i) => i.resourceSize)} bytes decoded`)
}
EOF
cat "$OUT"
echo "[bench] summary in $OUT" >&2
