#!/usr/bin/env bash
# Live offload (issue 5): the node's upload per HLS listener, N headless Chromium listeners
# on the listen page with peer-to-peer on vs off. Not part of CI.
#   benches/offload.sh     # LISTENERS=1,2,4 ROUND_SECS=60 STAGGER=2
#   OUT=offload-8 LISTENERS=8 benches/offload.sh             # results/offload-8.txt
# NODE_BIN=path uses that binary instead of building the release one (bytes, not CPU, are
# measured here, so a debug build gives the same figures).
source "$(dirname "$0")/common.sh"
need chromium chromium
[ -d "$REPO/node_modules/playwright-core" ] || (cd "$REPO" && npm ci --no-audit --no-fund)
if [ -n "${NODE_BIN:-}" ]; then BIN=$NODE_BIN; else build; fi
make_work offload
NAME="${OUT:-offload}"
OUT="$RESULTS/$NAME.txt"
{
    machine
    echo "binary: $BIN"
    echo "chromium: $(chromium --version 2>/dev/null)"
    echo "uptime: $(uptime)"
} > "$OUT"
python3 "$BENCH_DIR/offload.py" --bin "$BIN" --work "$WORK" --listeners "${LISTENERS:-1,2,4}" \
    --seconds "${ROUND_SECS:-60}" --stagger "${STAGGER:-2}" \
    --out "$WORK/offload.json" 2> >(tee "$RESULTS/$NAME.log" >&2) >/dev/null
cat "$WORK/offload.json" >> "$OUT"
echo "uptime at the end: $(uptime)" >> "$OUT"
echo "[bench] summary in $OUT" >&2
