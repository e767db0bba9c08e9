#!/usr/bin/env bash
# The fallback playlist's CPU (issue 16): the node (decode, resample, crossfade, Opus + MP3)
# against Liquidsoap doing the same playlist to the same encoders, same run, 60 s each.
#   benches/programme.sh          # SECS=60 FILES=3
source "$(dirname "$0")/common.sh"
need ffmpeg ffmpeg
need liquidsoap liquidsoap
build
make_work programme
OUT="$RESULTS/programme-cpu.txt"
{
    machine
    echo "liquidsoap: $(liquidsoap --version 2>/dev/null | head -1)"
} > "$OUT"
python3 "$BENCH_DIR/programme_bench.py" --bin "$BIN" --work "$WORK" --secs "${SECS:-60}" \
    --files "${FILES:-3}" --out "$WORK/programme.json" \
    2> >(tee "$RESULTS/programme-cpu.log" >&2) >/dev/null
cat "$WORK/programme.json" >> "$OUT"
echo "[bench] summary in $OUT" >&2
