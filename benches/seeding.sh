#!/usr/bin/env bash
# BitTorrent upload: aria2c fetching 1 GiB from the node vs from qbittorrent-nox (no web seed).
# Usage: benches/seeding.sh            (RUNS=3 SIZE_MIB=1024 KEEP=0; OUT=name -> results/name.txt)
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-3}; SIZE_MIB=${SIZE_MIB:-1024}
need hyperfine hyperfine
need aria2c aria2
need qbittorrent-nox qbittorrent-nox
need curl curl
need cmp diffutils
build
make_work seeding
LIB="$WORK/lib"; mkdir -p "$LIB"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$LIB/bench.mp3"
# aria2c writes into tmpfs (when it has room), so the fetcher's disk is not what is measured.
OUT_ROOT="$WORK"
if [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -1)" -gt $((SIZE_MIB * 1024 * 2)) ] 2>/dev/null; then
    OUT_ROOT="$(mktemp -d /dev/shm/streamp2p-bench.XXXXXX)"
    [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK" "$OUT_ROOT"' EXIT
fi
OUT="$RESULTS/${OUT:-seeding}.txt"
{
    echo "# seeding.sh $(date -u +%FT%TZ)"; machine
    echo "file: $SIZE_MIB MiB random ($LIB/bench.mp3); aria2c output dir in $OUT_ROOT"
} > "$OUT"
python3 "$BENCH_DIR/benchlib.py" seeding --bin "$BIN" --lib "$LIB" --work "$WORK" \
    --out-root "$OUT_ROOT" --runs "$RUNS" > "$WORK/seeding.json"
python3 - "$WORK/seeding.json" >> "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("node", "qbittorrent"):
    x = r[k]
    print(f"{k}: times {[round(t, 2) for t in x['times']]} s, median {x['median_secs']:.2f} s = "
          f"{x['MBps']:.0f} MB/s; aria2c cpu user {x['aria2c_user_secs']:.2f} s sys "
          f"{x['aria2c_system_secs']:.2f} s per run; seeder cpu {x['seeder_cpu_secs_per_run']:.2f} s "
          f"per run; identical {x['download_identical']}")
    dp = x["data_phase_secs"]
    if dp:
        print(f"  {k} data phase (first byte -> last byte in the output file): "
              f"{[round(t, 2) for t in dp]} s, median {x['data_phase_MBps']:.0f} MB/s")
    b = x["breakdown_run"]
    if "total_secs" in b:
        print(f"  {k} one more run, split: total {b['total_secs']:.2f} s = set-up {b['setup_secs']:.2f} s "
              f"(start -> first byte) + data {b['data_secs']:.2f} s + exit {b['exit_secs']:.2f} s")
print(f"ratio node/qBittorrent (speed, whole aria2c run): {r['ratio_node_over_qb_speed']:.2f}")
if r["node"]["data_phase_MBps"] and r["qbittorrent"]["data_phase_MBps"]:
    print(f"ratio node/qBittorrent (speed, data phase): "
          f"{r['node']['data_phase_MBps'] / r['qbittorrent']['data_phase_MBps']:.2f}")
print("raw:", json.dumps(r))
PY
cp "$WORK"/*.log "$RESULTS/" 2>/dev/null || true
cat "$OUT"
