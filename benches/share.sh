#!/usr/bin/env bash
# Station upload per listener with WebRTC peers (issue 15): 1 node + CLIENTS webtorrent 2.8.5
# clients in Node joining one after another, with `share_first` off (before) and on (after).
#   benches/share.sh        # CLIENTS=4 SIZE_MIB=16 RUNS=1
source "$(dirname "$0")/common.sh"
CLIENTS=${CLIENTS:-4}; SIZE_MIB=${SIZE_MIB:-16}; RUNS=${RUNS:-1}
need node nodejs
[ -d "$REPO/node_modules/webtorrent" ] || (cd "$REPO" && npm ci --no-audit --no-fund)
build
make_work share
mkdir -p "$WORK/lib"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/lib/bench.mp3"
OUT="$RESULTS/share.txt"
machine > "$OUT"
python3 "$BENCH_DIR/share_bench.py" --bin "$BIN" --work "$WORK" --lib "$WORK/lib" \
    --clients "$CLIENTS" --runs "$RUNS" --out "$WORK/share.json" 2> >(tee "$RESULTS/share.log" >&2)
cat "$WORK/share.json" >> "$OUT"
echo "[bench] summary in $OUT" >&2
