#!/usr/bin/env bash
# WebRTC seeding (issue 4): node vs webtorrent 2.8.5 in Node seeding the same 64 MiB file to one
# webtorrent fetcher; node RSS per connected WebRTC peer; page open -> first audio in Chromium.
#   benches/webrtc.sh        # RUNS=3 SIZE_MIB=64 PEERS=5
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-3}; SIZE_MIB=${SIZE_MIB:-64}; PEERS=${PEERS:-5}; ONLY=${ONLY:-abcd}
need node nodejs
need ffmpeg ffmpeg
need chromium chromium
[ -d "$REPO/node_modules/webtorrent" ] || (cd "$REPO" && npm ci --no-audit --no-fund)
build
make_work webrtc
mkdir -p "$WORK/lib" "$WORK/audio"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/lib/bench.mp3"
ffmpeg -v error -f lavfi -i "sine=frequency=440:duration=120:sample_rate=44100" -ac 2 -b:a 128k \
    -metadata title="Bench tone" -metadata artist=bench "$WORK/audio/tone.mp3"
OUT="$RESULTS/webrtc.txt"
{
    machine
    echo "uptime: $(uptime)"
} > "$OUT"
python3 "$BENCH_DIR/webrtc_bench.py" --bin "$BIN" --work "$WORK" --lib "$WORK/lib" \
    --audio-lib "$WORK/audio" --runs "$RUNS" --peers "$PEERS" --only "$ONLY" \
    --out "$WORK/webrtc.json" 2> >(tee "$RESULTS/webrtc.log" >&2) >/dev/null
cat "$WORK/webrtc.json" >> "$OUT"
cp "$WORK"/*.log "$RESULTS/" 2>/dev/null || true
echo "[bench] summary in $OUT" >&2
