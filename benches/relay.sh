#!/usr/bin/env bash
# Live relay: the origin's upload with N listeners behind one relay against N direct.
# Usage: benches/relay.sh   (SECONDS_=20 LISTENERS=1,2,4,8 KEEP=0)
source "$(dirname "$0")/common.sh"
build
make_work relay
python3 "$BENCH_DIR/relay_bench.py" --bin "$BIN" --work "$WORK" --seconds "${SECONDS_:-20}" \
    --listeners "${LISTENERS:-1,2,4,8}" | tee "$RESULTS/relay.json"
