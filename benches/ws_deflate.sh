#!/usr/bin/env bash
# permessage-deflate on the tracker's WebSocket (issue 20): signalling bytes and memory per
# socket with the extension and without, Node's `ws` as the client.
#   benches/ws_deflate.sh        # CONNS=1000 ROUNDS=2 NODE_BIN=path (default: a release build)
source "$(dirname "$0")/common.sh"
if [ -n "${NODE_BIN:-}" ]; then BIN="$NODE_BIN"; else build; fi
make_work ws-deflate
OUT="$RESULTS/ws-deflate.txt"
machine > "$OUT"
ulimit -n 8192
python3 "$BENCH_DIR/ws_deflate_bench.py" --bin "$BIN" --work "$WORK" --repo "$REPO" \
    --conns "${CONNS:-1000}" --rounds "${ROUNDS:-2}" 2> >(tee "$RESULTS/ws-deflate.log" >&2) >> "$OUT"
echo "[bench] summary in $OUT" >&2
