#!/usr/bin/env bash
# Federation: time for a new follower to mirror a library (default 1 GiB) on loopback,
# against aria2c fetching the same torrents from the origin.
# Usage: benches/federation.sh   (RUNS=2 FILES=8 FILE_MIB=128 KEEP=0)
source "$(dirname "$0")/common.sh"
need aria2c aria2
build
make_work federation
python3 "$BENCH_DIR/federation_bench.py" --bin "$BIN" --work "$WORK" --runs "${RUNS:-2}" \
    --files "${FILES:-8}" --file-mib "${FILE_MIB:-128}" | tee "$RESULTS/federation.json"
