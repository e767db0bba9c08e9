#!/usr/bin/env bash
# Build and run the node on embedded defaults (generated library, temporary data dir):
# http://127.0.0.1:8080. Extra arguments go to `streamp2p demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamp2p/target}"

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have_cmd pkg-config || need+=(pkg-config)
have_pkg libssl-dev || need+=(libssl-dev)
have_cmd cmake || need+=(cmake)
have_pkg libasound2-dev || need+=(libasound2-dev)
{ have_cmd gcc && have_cmd cc; } || need+=(gcc)

if ((${#need[@]})); then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
  echo "demo.sh: installing ${need[*]}" >&2
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

exec cargo run --release -- demo "$@"
