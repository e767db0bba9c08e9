#!/usr/bin/env bash
# Tracker load: the node's HTTP, UDP and WebSocket tracker against opentracker (Debian's
# package, whitelist mode) and aquatic_udp / aquatic_ws, same load, same run, one core each.
#
#   benches/tracker.sh              # RUNS=3 SECONDS_=20 WARMUP=5 TORRENTS=10000 PEERS=100000
#   SCENARIOS=udp,ws RUNS=1 benches/tracker.sh
#   PROFILE=udp benches/tracker.sh  # only: perf profile of the node (udp, http or ws load)
#   OUT=tracker-udp SCENARIOS=udp-aquatic,udp benches/tracker.sh   # results/tracker-udp.txt
#   NODE_BIN=path BASE_BIN=path TRACKERS=opentracker SCENARIOS=udp,http,ws-light benches/tracker.sh
#
# NODE_BIN: run this node binary instead of building one (NODE_COMMIT labels it; default its
# --version). BASE_BIN: a second node binary (e.g. an older commit, BASE_COMMIT labels it; add
# BASE_PRE_CAPS=1 for a build from before issue 13, which refuses the [web] caps) that
# runs as "node-base" in every scenario, alternating with the others, for a before/after in
# one pass. TRACKERS: the references to run, of opentracker,aquatic (default both; without
# aquatic nothing is cargo-installed).
#
# Scenarios: udp-aquatic (aquatic_udp_load_test), udp (streamp2p-loadgen, own peer ids and
# latency), http and http-close (wrk + tracker_http.lua), ws (streamp2p-loadgen ws: announces
# with 10 offers), ws-mem (RSS per connected WebSocket peer). Trackers: taskset -c 1;
# generators: taskset -c 0. Results: benches/results/tracker.txt (+ .json).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need taskset util-linux
need opentracker opentracker
need wrk wrk
need perf linux-perf

# aquatic from the crates registry. 0.9.0's lock file pins metrics 0.22.3, which current
# rustc refuses (E0521); the servers are built without their prometheus feature instead.
cargo_need() {
    local bin=$1 crate=$2; shift 2
    command -v "$bin" >/dev/null 2>&1 && return 0
    echo "[bench] $bin missing; cargo install $crate $*" >&2
    cargo install --locked "$crate" "$@" >&2 || echo "[bench] WARNING: $crate did not build; skipped" >&2
}
export PATH="$HOME/.cargo/bin:$PATH"
export TRACKERS="${TRACKERS:-opentracker,aquatic}"
if [[ ",$TRACKERS," == *,aquatic,* ]]; then
    cargo_need aquatic_udp_load_test aquatic_udp_load_test
    cargo_need aquatic_udp aquatic_udp --no-default-features --features mimalloc
    cargo_need aquatic_ws aquatic_ws --no-default-features --features mimalloc
fi

if [ -n "${NODE_BIN:-}" ]; then
    BIN="$NODE_BIN"
    "$BIN" --version >&2
else
    build
fi
LOADGEN_TARGET="$CARGO_TARGET_DIR/loadgen"
(cd "$BENCH_DIR/loadgen" && CARGO_TARGET_DIR="$LOADGEN_TARGET" cargo build --release --quiet)
LOADGEN="$LOADGEN_TARGET/release/streamp2p-loadgen"

NAME="${OUT:-tracker}"
[ -z "${PROFILE:-}" ] || NAME="tracker-perf-$PROFILE"
make_work tracker
# Other work on this machine may rebuild the shared target dir mid-run: every run starts this
# copy of the binary that was just built.
if [ -n "${NODE_BIN:-}" ]; then
    NODE_COMMIT="${NODE_COMMIT:-$("$BIN" --version 2>&1 | head -1) (NODE_BIN)}"
else
    NODE_COMMIT="$(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet -- src Cargo.toml Cargo.lock || echo '+dirty')"
fi
cp "$BIN" "$WORK/streamp2p"
BIN="$WORK/streamp2p"
BASE_ARGS=()
if [ -n "${BASE_BIN:-}" ]; then
    cp "$BASE_BIN" "$WORK/streamp2p-base"
    BASE_ARGS=(--base-bin "$WORK/streamp2p-base")
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
{
    machine
    echo "opentracker: $(dpkg-query -W -f='${Version}' opentracker 2>/dev/null)"
    echo "cargo-installed: $(cargo install --list | grep -E '^aquatic' | tr -d ':' | tr '\n' ' ')"
    echo "node binary: $NODE_COMMIT, sha256 $(sha256sum "$BIN" | cut -c1-16)"
    [ -z "${BASE_BIN:-}" ] || echo "node-base binary: ${BASE_COMMIT:-$("$BASE_BIN" --version 2>&1 | head -1)}, sha256 $(sha256sum "$WORK/streamp2p-base" | cut -c1-16)"
    echo "trackers: node${BASE_BIN:+,node-base},$TRACKERS"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "load: $(cat /proc/loadavg); fuzz: $(pgrep -fa fuzz | grep -v pgrep | head -1 || echo none)"
} | tee "$RESULTS/$NAME-machine.txt" >&2

if [ -n "${PROFILE:-}" ]; then
    python3 "$BENCH_DIR/trackerbench.py" profile --kind "$PROFILE" --work "$WORK" --bin "$BIN" \
        --loadgen "$LOADGEN" --out "$RESULTS/$NAME.txt"
    exit 0
fi
python3 "$BENCH_DIR/trackerbench.py" all --work "$WORK" --bin "$BIN" --loadgen "$LOADGEN" \
    "${BASE_ARGS[@]}" --trackers "$TRACKERS" --out "$RESULTS/$NAME.txt"
# The trackers' logs stay in the work directory: KEEP=1 keeps it.
