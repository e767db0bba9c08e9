#!/usr/bin/env bash
# Source in (issue 16): a studio PC's MP3 stream (ffmpeg, one encode sent to both) heard
# through the node's /live.ogg and /live.mp3 against icecast2 relaying it, same run.
#   benches/source_in.sh      # DURATION=62
source "$(dirname "$0")/common.sh"
need ffmpeg ffmpeg
need icecast2 icecast2
build
make_work source-in
OUT="$RESULTS/source-in.txt"
{
    machine
    echo "icecast2: $(dpkg-query -W -f '${Version}' icecast2)"
    echo "ffmpeg: $(ffmpeg -version | head -1)"
} > "$OUT"
python3 "$BENCH_DIR/source_in_bench.py" --bin "$BIN" --work "$WORK" \
    --duration "${DURATION:-62}" --out "$WORK/source-in.json" \
    2> >(tee "$RESULTS/source-in.log" >&2) >/dev/null
cat "$WORK/source-in.json" >> "$OUT"
echo "[bench] summary in $OUT" >&2
