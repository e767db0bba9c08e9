#!/usr/bin/env bash
# TLS cost: HTTP tracker announces per CPU-second of the node over https keep-alive vs plain
# http, same node, same run (see tls_bench.py). Results: benches/results/tls.txt.
#
#   benches/tls.sh                       # RUNS=3 SECONDS_=15 CONNS=50
#   NODE_BIN=path benches/tls.sh         # a node binary already built (release)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need taskset util-linux
need wrk wrk
need openssl openssl
need ffmpeg ffmpeg
need chromium chromium

if [ -n "${NODE_BIN:-}" ]; then BIN="$NODE_BIN"; else build; fi
make_work tls
cp "$BIN" "$WORK/streamp2p"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
python3 "$BENCH_DIR/tls_bench.py" "$WORK/streamp2p" "$WORK" "$RESULTS/tls.txt"
