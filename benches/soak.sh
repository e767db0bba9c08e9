#!/usr/bin/env bash
# Soak (issue 12): one node on air for DURATION_MIN minutes under 50 progressive listeners
# coming and going, 20 HLS pollers, 200 tracker announces/s (HTTP + UDP) and a WebTorrent
# client fetching an episode again and again; after WARMUP_MIN minutes, RSS and open fds of the
# node every minute, and a verdict (RSS drift under 5 MiB, fds flat). Loopback only. Not CI.
#   benches/soak.sh                                  # DURATION_MIN=30 WARMUP_MIN=5
#   DURATION_MIN=4 WARMUP_MIN=1 OUT=soak-trial benches/soak.sh   # a short trial
# Knobs: LISTENERS=50 HLS=20 ANNOUNCES=200 PEERS=1000 WEBTORRENT=1 RSS_LIMIT_MIB=5 FD_TOL=10;
# NODE_BIN=path uses that binary instead of building the release one (RSS needs a release build).
source "$(dirname "$0")/common.sh"
need curl curl
need node nodejs
[ -d "$REPO/node_modules/webtorrent" ] || (cd "$REPO" && npm ci --no-audit --no-fund)
if [ -n "${NODE_BIN:-}" ]; then BIN=$NODE_BIN; else build; fi
make_work soak
NAME="${OUT:-soak}"
OUT="$RESULTS/$NAME.txt"
{
    echo "# soak.sh $(date -u +%FT%TZ)"; machine
    echo "binary: $BIN"
    echo "node: $(node --version); webtorrent $(node -p 'require("webtorrent/package.json").version' 2>/dev/null)"
    echo "uptime: $(uptime)"
    echo "duration ${DURATION_MIN:-30} min, warm-up ${WARMUP_MIN:-5} min; ${LISTENERS:-50} progressive," \
         "${HLS:-20} HLS, ${ANNOUNCES:-200} announces/s, WebTorrent ${WEBTORRENT:-1}"
} > "$OUT"

# The driver runs in the background so that a signal to this script reaches the trap at once;
# the trap stops the driver (which stops the node, the WebTorrent client and its load threads,
# and whose children also get SIGTERM through PR_SET_PDEATHSIG if it dies), then removes WORK.
PY=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$PY" ] && kill -0 "$PY" 2>/dev/null; then
        kill -TERM "$PY" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$PY" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$PY" 2>/dev/null || true
    fi
    cp "$WORK/node-soak.log" "$RESULTS/$NAME-node.log" 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT INT TERM HUP

python3 "$BENCH_DIR/soak_bench.py" --bin "$BIN" --work "$WORK" \
    --duration-mins "${DURATION_MIN:-30}" --warmup-mins "${WARMUP_MIN:-5}" \
    --listeners "${LISTENERS:-50}" --hls "${HLS:-20}" --announces "${ANNOUNCES:-200}" \
    --peers "${PEERS:-1000}" --webtorrent "${WEBTORRENT:-1}" \
    --rss-limit-mib "${RSS_LIMIT_MIB:-5}" --fd-tolerance "${FD_TOL:-10}" \
    > "$WORK/soak.json" 2> >(tee "$RESULTS/$NAME.log" >&2) &
PY=$!
wait "$PY"
PY=""
python3 - "$WORK/soak.json" >> "$OUT" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{'min':>5} {'RSS MiB':>8} {'HWM MiB':>8} {'fds':>4} {'fds med':>7} {'thr':>4} {'load1':>5}  "
      f"{'L.total':>7} {'L.hls':>5}  "
      f"{'prog conn':>9} {'hls seg':>7} {'ann/s':>6} {'wt ok/fail':>10}  listeners (health, all keys)")
# L.total / L.hls: /api/health's top-level `listeners` object (issue 12); "-" on a node without it.
for x in r["rows"]:
    hl = x["health_listeners"]
    print(f"{x['minute']:5.1f} {x['rss_kib'] / 1024:8.1f} {x['hwm_kib'] / 1024:8.1f} {x['fds']:4d} "
          f"{x['fds_median']:7.1f} {x['threads']:4d} {x['loadavg1']:5.2f}  "
          f"{hl.get('listeners.total', '-'):>7} {hl.get('listeners.hls', '-'):>5}  "
          f"{x['progressive_connects']:9d} "
          f"{x['hls_segments']:7d} {x['announces_per_sec']:6.1f} {x['wt_ok']:>5}/{x['wt_fail']:<4}  "
          f"{json.dumps(x['health_listeners'])}" + (f"  errors {x['errors']}" if x["errors"] else ""))
print("totals:", json.dumps(r["totals"]))
print(r["verdict_line"])
print("raw:", json.dumps({k: v for k, v in r.items() if k != "samples"}))
PYEOF
echo "uptime at the end: $(uptime)" >> "$OUT"
cat "$OUT"
grep -q '^VERDICT PASS' "$OUT"
