#!/usr/bin/env bash
# The swarm lab (issue 20), one command, as root (network namespaces and tc):
#   benches/swarm/run.sh                    # LISTENERS=12 SECONDS=150 SEED=20
#   LISTENERS=12,24 benches/swarm/run.sh    # one run per audience size
#   NODE_BIN=path/to/streamp2p benches/swarm/run.sh   # that binary (bytes do not depend on
#                                                     # the build; CPU does)
#   LISTENER=light benches/swarm/run.sh     # Node.js listeners (light.mjs) instead of Chromium
#   ICECAST=60,70,80 benches/swarm/run.sh   # then icecast2 on the same link with that many
#                                           # plain listeners (icecast.py); LISTENERS= skips
#                                           # the node's runs
#   HALVE_AT=120 benches/swarm/run.sh      # the node's uplink halves 120 s into each run
#   HAMMER=2 benches/swarm/run.sh           # and 2 hosts poll its playlist 10 times a second
#   LIARS=10 LISTENER=light benches/swarm/run.sh   # 10 % of the sharing listeners claim
#                                           # segments they lack and never answer for them
#   NO_REJOIN=1 / LIVE_SYNC=6 with LISTENER=light: light listeners without the stranded
#                                           # rejoin, or 12 s behind live (experiments)
#   NODE_CONFIG='[tracker]\nws_settled_interval_secs = 120' benches/swarm/run.sh
#                                           # more of the node's config (an experiment)
#   LIGHT_DEBUG=1 KEEP=1                    # each home's per-segment log kept in the work
#                                           # directory (home-N.log): a light home's own, a
#                                           # Chromium home's p2p-media-loader debug output
#   OVERFLOW=100 benches/swarm/run.sh       # then that many plain listeners ramping up on the
#                                           # node, with its Icecast relay in another namespace
#                                           # (overflow.py; NO_RELAY=1: also without it)
# See lab.py for the network, the audience and what is counted. Results: benches/results/
# swarm-<name>-<N>.json (OUT=name, default swarm) and a line per run in swarm-<name>.txt.
# Not part of CI: a run of 12 listeners takes about 3 minutes and both cores.
source "$(dirname "$0")/../common.sh"
need chromium chromium
need curl curl
need tc iproute2
need nft nftables
if [ -n "${ICECAST:-}${OVERFLOW:-}" ]; then need icecast2 icecast2; need ffmpeg ffmpeg; fi
[ -d "$REPO/node_modules/playwright-core" ] || (cd "$REPO" && npm ci --no-audit --no-fund)
if [ -n "${NODE_BIN:-}" ]; then BIN=$NODE_BIN; else build; fi
make_work swarm
NAME="${OUT:-swarm}"
{
    machine
    echo "binary: $BIN ($("$BIN" --version 2>&1))"
    echo "chromium: $(chromium --version 2>/dev/null)"
} > "$RESULTS/$NAME.txt"
IFS=, read -ra SIZES <<< "${LISTENERS-12}"
for n in "${SIZES[@]}"; do
    mkdir -p "$WORK/$n"
    python3 "$BENCH_DIR/swarm/lab.py" --bin "$BIN" --work "$WORK/$n" --out "$RESULTS/$NAME-$n.json" \
        --listeners "$n" --listener "${LISTENER:-chromium}" --seconds "${SECONDS_PER_RUN:-150}" --seed "${SEED:-20}" \
        --node-up "${NODE_UP:-10}" --node-down "${NODE_DOWN:-50}" --halve-at "${HALVE_AT:-0}" --hammer "${HAMMER:-0}" --liars "${LIARS:-0}" \
        --node-config "${NODE_CONFIG:-}" \
        2> >(tee -a "$RESULTS/$NAME.log" >&2)
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); [r.pop(k) for k in ('per_listener','node_listener_counts','timeline')]; print(json.dumps(r))" \
        "$RESULTS/$NAME-$n.json" >> "$RESULTS/$NAME.txt"
done
if [ -n "${ICECAST:-}" ]; then
    mkdir -p "$WORK/icecast"
    python3 "$BENCH_DIR/swarm/icecast.py" --work "$WORK/icecast" --out "$RESULTS/$NAME-icecast.json" \
        --sizes "$ICECAST" --node-up "${NODE_UP:-10}" --node-down "${NODE_DOWN:-50}" 2> >(tee -a "$RESULTS/$NAME.log" >&2)
    cat "$RESULTS/$NAME-icecast.json" >> "$RESULTS/$NAME.txt"
fi
if [ -n "${OVERFLOW:-}" ]; then
    mkdir -p "$WORK/overflow"
    python3 "$BENCH_DIR/swarm/overflow.py" --bin "$BIN" --work "$WORK/overflow" --out "$RESULTS/$NAME-overflow-$OVERFLOW.json" \
        --sizes "$OVERFLOW" ${NO_RELAY:+--no-relay} --node-up "${NODE_UP:-10}" --node-down "${NODE_DOWN:-50}" \
        2> >(tee -a "$RESULTS/$NAME.log" >&2)
    cat "$RESULTS/$NAME-overflow-$OVERFLOW.json" >> "$RESULTS/$NAME.txt"
fi
echo "[bench] summary in $RESULTS/$NAME.txt" >&2
