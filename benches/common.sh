# Sourced by the benchmark scripts: tools, build, work directory, machine description.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamp2p/target}"
BIN="$CARGO_TARGET_DIR/release/streamp2p"
RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"

# need CMD PACKAGE...: installs the packages with apt-get when CMD is missing (root or sudo).
need() {
    local cmd=$1; shift
    command -v "$cmd" >/dev/null 2>&1 && return 0
    echo "[bench] $cmd missing; installing $*" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

build() {
    (cd "$REPO" && cargo build --release --quiet)
    "$BIN" --version >&2
}

# A fresh work directory under /tmp, removed on exit unless KEEP=1.
make_work() {
    WORK="$(mktemp -d /tmp/streamp2p-bench-$1.XXXXXX)"
    if [ "${KEEP:-0}" = 1 ]; then
        echo "[bench] keeping $WORK" >&2
    else
        trap 'rm -rf "$WORK"' EXIT
    fi
}

machine() {
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'sha_ni|avx2|avx512f' | tr '\n' ' ')"
    echo "mem: $(free -m | awk '/Mem:/{print $2}') MiB; kernel $(uname -r)"
    echo "commit: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet -- src Cargo.toml Cargo.lock || echo ' (+ uncommitted changes in src/)')"
}
