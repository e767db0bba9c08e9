#!/usr/bin/env bash
# Live audio (issue 5): capture -> HTTP client latency (tone bursts through an ALSA file-plugin
# PCM fed by a FIFO), node vs darkice 1.3 + icecast2, CPU over the same 60 s, HLS latency.
#   benches/live.sh          # DURATION=82 CPU_SECS=60 CROWD=0 (idle listeners per node stream)
source "$(dirname "$0")/common.sh"
need ffmpeg ffmpeg
need darkice darkice
need icecast2 icecast2
need curl curl
build
make_work live
chmod 755 "$WORK"
OUT="$RESULTS/live.txt"
{
    machine
    echo "uptime: $(uptime)"
    echo "darkice: $(darkice -h 2>&1 | head -1)"
    echo "icecast2: $(dpkg-query -W -f '${Version}' icecast2)"
} > "$OUT"
python3 "$BENCH_DIR/live_bench.py" --bin "$BIN" --work "$WORK" --duration "${DURATION:-82}" \
    --cpu-secs "${CPU_SECS:-60}" --buffer-secs "${BUFFER_SECS:-1}" --crowd "${CROWD:-0}" \
    --out "$WORK/live.json" 2> >(tee "$RESULTS/live.log" >&2) >/dev/null
cat "$WORK/live.json" >> "$OUT"
for f in node-live.log darkice.log icecast.log; do cp "$WORK/$f" "$RESULTS/live-$f" 2>/dev/null || true; done
echo "[bench] summary in $OUT" >&2
