#!/usr/bin/env bash
# Station upload per listener for an episode on plain http (issue 15): the node in its own
# network namespace (10.15.9.2), N Chromium listeners beside it (10.15.9.1) opening the
# listen page by that address; they join one after another, each plays until it has the
# whole episode and stays on the page to share it. For each listener, the bytes that left
# the node's namespace (its veth's tx_bytes) while it played, as a fraction of the episode.
# Goal for listeners 2..N: <= 0.25 (before issue 15: 1.0). Needs root (ip netns).
# FORMAT: mp3, m4a (AAC, the moov at the end, as ffmpeg writes it) or m4a-faststart.
#   N=6 SECS=150 KBPS=128 FORMAT=mp3 benches/episode_offload.sh   (BIN=path skips the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-6}
SECS=${SECS:-150}
KBPS=${KBPS:-128}
FORMAT=${FORMAT:-mp3}
case "$FORMAT" in
  mp3) ext=mp3 codec=(-ac 2) ;;
  m4a) ext=m4a codec=(-ac 2 -c:a aac) ;;
  m4a-faststart) ext=m4a codec=(-ac 2 -c:a aac -movflags +faststart) ;;
  *) echo "FORMAT is mp3, m4a or m4a-faststart" >&2; exit 2 ;;
esac
result=benches/results/episode_offload.txt
[ "$FORMAT" = mp3 ] || result=benches/results/episode_offload-$FORMAT.txt
if [ -z "${BIN:-}" ]; then
  cargo build --release
  BIN="${CARGO_TARGET_DIR:-target}/release/streamp2p"
fi
tmp=$(mktemp -d /tmp/streamp2p-episode-offload.XXXXXX)
box="spbench-box$$"
phones="spbench-ph$$"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  ip netns del "$box" 2>/dev/null || true
  ip netns del "$phones" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$box"
ip netns add "$phones"
ip link add "vb$$" type veth peer name "vp$$"
ip link set "vb$$" netns "$box"
ip link set "vp$$" netns "$phones"
for ns in "$box" "$phones"; do
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip -n "$box" addr add 10.15.9.2/24 dev "vb$$"
ip -n "$phones" addr add 10.15.9.1/24 dev "vp$$"
ip -n "$box" link set "vb$$" up
ip -n "$phones" link set "vp$$" up
# WebRTC's mDNS socket needs a route for multicast; each default route leads only to the other.
ip -n "$box" route add default via 10.15.9.1
ip -n "$phones" route add default via 10.15.9.2

mkdir -p "$tmp/library" "$tmp/data"
ffmpeg -v error -nostdin -f lavfi -i "sine=frequency=440:duration=$SECS" "${codec[@]}" -b:a "${KBPS}k" \
  -metadata title="Bench Show" -y "$tmp/library/bench.$ext"
printf '[scan]\nrescan_secs = 1\n\n[swarm]\ndht = false\nlsd = false\n' > "$tmp/streamp2p.toml"
ip netns exec "$box" "$BIN" run --data-dir "$tmp/data" --library "$tmp/library" \
  --http 10.15.9.2:8080 --peer-port 6881 --udp-tracker 10.15.9.2:6969 \
  --config "$tmp/streamp2p.toml" > "$tmp/node.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if ip netns exec "$box" curl -sf http://10.15.9.2:8080/api/library 2>/dev/null | grep -q infohash; then break; fi
  sleep 0.1
done
size=$(stat -c %s "$tmp/library/bench.$ext")
ip netns exec "$phones" node tests/js/episodes_p2p.mjs --base=http://10.15.9.2:8080 --ns="$box" \
  --title="Bench Show" --listeners="$N" --timeout=900 | tee "$tmp/out.txt"
mkdir -p benches/results
python3 - "$tmp/out.txt" "$size" "$N" "$FORMAT" > "$result" <<'PY'
import json, sys
rows = [json.loads(l[7:]) for l in open(sys.argv[1]) if l.startswith('RESULT ')]
size, n = int(sys.argv[2]), int(sys.argv[3])
print(f"episode {size} bytes ({sys.argv[4]}), {n} listeners")
print("listener  node_out_bytes  fraction  from_peers  from_station  from_webseed  start_ms")
for r in rows:
    print(f"{r['listener']:>8}  {r['nodeOut']:>14}  {r['ratio']:>8.3f}  {r['fromPeers']:>10}  {r['fromStation']:>12}  {r['fromWebSeed']:>12}  {r['startMs']:>8}")
later = [r['ratio'] for r in rows if r['listener'] >= 2]
print(f"mean fraction, listeners 2..{n}: {sum(later) / len(later):.3f} (goal <= 0.25)")
PY
cat "$result"
