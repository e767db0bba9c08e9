#!/usr/bin/env bash
# Hashing throughput: sha1sum (and sha256sum) vs the node hashing the same 1 GiB (8 x 128 MiB)
# library. Since issue 13 the node takes each file's SHA-256 in the same read as the pieces'
# SHA-1, so sha1sum + sha256sum (two reads of a warm cache) is the reference for the pair.
# Usage: benches/hashing.sh            (RUNS=3 FILES=8 FILE_MIB=128 KEEP=0; OUT=name ->
#        results/name.txt; NODE_BIN=path measures that binary instead of building this tree)
source "$(dirname "$0")/common.sh"
RUNS=${RUNS:-3}; FILES=${FILES:-8}; FILE_MIB=${FILE_MIB:-128}
need hyperfine hyperfine
need sha1sum coreutils
need curl curl
if [ -n "${NODE_BIN:-}" ]; then
    BIN="$NODE_BIN"; "$BIN" --version >&2
else
    build
fi
make_work hashing
LIB="$WORK/lib"; mkdir -p "$LIB"
for i in $(seq 1 "$FILES"); do
    head -c "$((FILE_MIB * 1024 * 1024))" /dev/urandom > "$LIB/$(printf 'show%02d.mp3' "$i")"
done
OUT="$RESULTS/${OUT:-hashing}.txt"
{
    echo "# hashing.sh $(date -u +%FT%TZ)"; machine
    [ -z "${NODE_BIN:-}" ] || echo "node binary: $NODE_BIN (not built from this tree)"
    echo "library: $FILES x $FILE_MIB MiB random in $LIB"
} > "$OUT"

# (a) sha1sum, page cache warm (cat twice before every run).
WARM="cat $LIB/*.mp3 > /dev/null; cat $LIB/*.mp3 > /dev/null"
hyperfine --runs "$RUNS" --style basic --prepare "$WARM" \
    --export-json "$WORK/sha1sum.json" "sha1sum $LIB/*.mp3 > /dev/null"
hyperfine --runs "$RUNS" --style basic --prepare "$WARM" \
    --export-json "$WORK/sha256sum.json" "sha256sum $LIB/*.mp3 > /dev/null"

# (b) the node, same warm cache, fresh data dir each run (see README.md for the method).
python3 "$BENCH_DIR/benchlib.py" hashing --bin "$BIN" --lib "$LIB" --work "$WORK" \
    --runs "$RUNS" > "$WORK/node.json"

python3 - "$WORK/sha1sum.json" "$WORK/node.json" "$WORK/sha256sum.json" >> "$OUT" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["results"][0]
n = json.load(open(sys.argv[2]))
s256 = json.load(open(sys.argv[3]))["results"][0]
b = n["bytes"]
sha = b / s["median"] / 1e6
print(f"sha1sum: times {[round(t, 3) for t in s['times']]} s, median {s['median']:.3f} s = {sha:.0f} MB/s")
both = s["median"] + s256["median"]
print(f"sha256sum: times {[round(t, 3) for t in s256['times']]} s, median {s256['median']:.3f} s = "
      f"{b / s256['median'] / 1e6:.0f} MB/s; sha1sum + sha256sum {both:.3f} s = {b / both / 1e6:.0f} MB/s")
for i, r in enumerate(n["runs"], 1):
    print(f"node run {i}: log {r['log_secs']:.3f} s, start->done {r['e2e_secs']:.3f} s, "
          f"empty-library baseline {r['baseline_secs']:.3f} s, difference {r['e2e_minus_baseline_secs']:.3f} s, "
          f"first bytes_done>0 seen at {r['first_bytes_seen_secs']:.3f} s, node cpu {r['node_cpu_secs']:.2f} s, "
          f"in page cache before: {r['cached_bytes_before']} of {b} bytes, load {r['loadavg_1m_before']:.2f}")
    if r["cached_bytes_before"] is not None and r["cached_bytes_before"] < b:
        print(f"WARNING: run {i} did not start from a fully warm page cache")
print(f"node (log timestamps): median {n['median_log_secs']:.3f} s = {n['node_MBps_log']:.0f} MB/s, "
      f"ratio node/sha1sum {n['node_MBps_log'] / sha:.2f}")
print(f"node (end-to-end minus baseline): median {n['median_e2e_minus_baseline_secs']:.3f} s = "
      f"{n['node_MBps_e2e']:.0f} MB/s, ratio node/sha1sum {n['node_MBps_e2e'] / sha:.2f}, "
      f"ratio node/(sha1sum + sha256sum) {n['node_MBps_e2e'] / (b / both / 1e6):.2f}")
print("raw:", json.dumps({"sha1sum": s["times"], "sha256sum": s256["times"], "node": n}))
PY
cat "$OUT"
