#!/usr/bin/env bash
# Listener fan-out (issue 16): 500 + 500 listeners on the node's /live.ogg and /live.mp3
# against icecast2 serving the same streams to the same listeners, same run; CPU beyond the
# on-air baseline.   benches/fanout.sh      # LISTENERS=500 SECS=30
source "$(dirname "$0")/common.sh"
need ffmpeg ffmpeg
need icecast2 icecast2
build
make_work fanout
OUT="$RESULTS/fanout.txt"
{
    machine
    echo "icecast2: $(dpkg-query -W -f '${Version}' icecast2)"
} > "$OUT"
# A thousand sockets per side, and the client's.
ulimit -n 8192
python3 "$BENCH_DIR/fanout_bench.py" --bin "$BIN" --work "$WORK" \
    --listeners "${LISTENERS:-500}" --secs "${SECS:-30}" --out "$WORK/fanout.json" \
    2> >(tee "$RESULTS/fanout.log" >&2) >/dev/null
cat "$WORK/fanout.json" >> "$OUT"
echo "[bench] summary in $OUT" >&2
