#!/usr/bin/env bash
# Restart: 1000 small files, all seeding; SIGTERM; time back to health and to all seeding.
# Usage: benches/restart.sh            (RUNS=3 FILES=1000 FILE_KIB=64 IDLE=10 KEEP=0)
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-3}; FILES=${FILES:-1000}; FILE_KIB=${FILE_KIB:-64}; IDLE=${IDLE:-10}
need curl curl
build
make_work restart
LIB="$WORK/lib"; mkdir -p "$LIB"
python3 - "$LIB" "$FILES" "$FILE_KIB" <<'PY'
import os, sys
lib, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(1, n + 1):
    with open(os.path.join(lib, f"ep{i:04d}.mp3"), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
OUT="$RESULTS/restart.txt"
{
    echo "# restart.sh $(date -u +%FT%TZ)"; machine
    echo "library: $FILES x $FILE_KIB KiB random"
} > "$OUT"
python3 "$BENCH_DIR/benchlib.py" restart --bin "$BIN" --lib "$LIB" --work "$WORK" \
    --runs "$RUNS" --files "$FILES" --idle "$IDLE" > "$WORK/restart.json"
python3 - "$WORK/restart.json" >> "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["first_run"]
print(f"first run (hash {r['files']} files + add torrents): items at {f['items_secs']:.2f} s, "
      f"all seeding at {f['all_seeding_secs']:.2f} s, stop {f['stop_secs']:.2f} s")
for i, x in enumerate(r["runs"], 1):
    print(f"restart {i}: health answers {x['health_first_answer_secs']:.3f} s, items=={r['files']} "
          f"{x['items_secs']:.3f} s, all seeding {x['all_seeding_secs']:.3f} s, "
          f"hashed_since_start {x['hashed_since_start']}, idle RSS {x['idle_rss_kib'] / 1024:.1f} MiB "
          f"(HWM {x['idle_hwm_kib'] / 1024:.1f} MiB, at all-seeding {x['rss_at_all_seeding_kib'] / 1024:.1f} MiB), "
          f"threads {x['threads']}, log ready_ms {x['log_ready_ms']}, stop {x['stop_secs']:.2f} s")
print(f"median: items {r['median_items_secs']:.3f} s, all seeding {r['median_all_seeding_secs']:.3f} s; "
      f"max idle RSS {r['max_idle_rss_kib'] / 1024:.1f} MiB")
print("raw:", json.dumps(r))
PY
cp "$WORK/node.log" "$RESULTS/restart-node.log" 2>/dev/null || true
cat "$OUT"
