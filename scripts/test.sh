#!/usr/bin/env bash
# Install what the tests need (apt packages), then run formatting, lints and the whole test suite.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamp2p/target}"

# apt packages the build and the tests need, each with a command (or dpkg package) that shows it.
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have_cmd aria2c || need+=(aria2)
have_cmd transmission-cli || need+=(transmission-cli)
# tests/https.rs: Let's Encrypt's ACME test server, and openssl for its test CA.
have_cmd pebble || need+=(pebble)
have_cmd openssl || need+=(openssl)
{ have_cmd ffmpeg && have_cmd ffprobe; } || need+=(ffmpeg)
have_cmd pkg-config || need+=(pkg-config)
have_pkg libssl-dev || need+=(libssl-dev)
have_cmd cmake || need+=(cmake)
have_pkg libasound2-dev || need+=(libasound2-dev)
{ have_cmd gcc && have_cmd cc; } || need+=(gcc)
have_cmd sha256sum || need+=(coreutils)
have_cmd git || need+=(git)
# The listen page is tested in Debian's Chromium (never a downloaded browser).
have_cmd chromium || need+=(chromium)
# The podcast feed is read back by Python's feedparser and podcastparser (Debian's packages,
# Debian's python3); the admin tests use unshare and curl for a second network.
/usr/bin/python3 -c 'import feedparser' 2>/dev/null || need+=(python3-feedparser)
/usr/bin/python3 -c 'import podcastparser' 2>/dev/null || need+=(python3-podcastparser)
have_cmd curl || need+=(curl)
# tests/operator_tasks.rs holds the box's clock at a known day with Debian's libfaketime.
have_pkg libfaketime || need+=(faketime)
have_cmd unshare || need+=(util-linux)
have_cmd ip || need+=(iproute2)
# tests/episodes_p2p.rs slows the box's link with tc (tbf) for its seeks.
have_cmd tc || need+=(iproute2)
# The home router of tests/port_mapping.rs: Debian's miniupnpd (UPnP IGD, NAT-PMP/PCP) on
# nftables in a namespace, its mappings read back with upnpc and nft.
have_cmd miniupnpd || need+=(miniupnpd-nftables)
have_cmd upnpc || need+=(miniupnpc)
# The box's STUN server is checked with coturn's STUN client, and the home routers of the NAT
# test masquerade with nftables.
have_cmd turnutils_stunclient || need+=(coturn)
have_cmd nft || need+=(nftables)
# Studio PCs and Icecast servers (tests/programme.rs): Debian's Liquidsoap and ezstream as
# sources, and icecast2 as the server the box pushes to.
have_cmd liquidsoap || need+=(liquidsoap)
have_cmd ezstream || need+=(ezstream)
have_cmd icecast2 || need+=(icecast2)
# The unit's exposure check (the image's own tools are installed by image/*.sh).
have_cmd systemd-analyze || need+=(systemd)

if ((${#need[@]})); then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
  echo "test.sh: installing ${need[*]}" >&2
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  # Debian's icecast2 starts a server on port 8000 where systemd runs; tests start their own.
  if [[ " ${need[*]} " == *" icecast2 "* ]] && have_cmd systemctl; then
    "${SUDO[@]}" systemctl disable --now icecast2 >/dev/null 2>&1 || true
  fi
  # Debian's coturn starts a TURN server on port 3478 where systemd runs; only its client is used.
  if [[ " ${need[*]} " == *" coturn "* ]] && have_cmd systemctl; then
    "${SUDO[@]}" systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
fi

# npm packages the tests drive (tests/js: bittorrent-tracker, webtorrent, WebRTC for Node), into
# ./node_modules, pinned by package-lock.json. Reinstalled only when missing or out of date.
if ! have_cmd node || ! have_cmd npm; then
  echo "test.sh: Node.js 20 and npm are needed for the tests in tests/js (https://nodejs.org)" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test.sh: npm ci" >&2
  npm ci --no-audit --no-fund
fi

export STREAMP2P_PYTHON=/usr/bin/python3

# The target dir is reused between runs, and each change leaves a new copy of every test binary
# beside the old ones. When this run has built a new copy, the older ones (and their .d files) go,
# so that the dir stays the size of one build. When the disk is nearly full anyway, the
# incremental caches go too, and it says so: a full disk kills the linker with SIGBUS, far from
# the cause.
mkdir -p "$CARGO_TARGET_DIR"
run_start=$(date +%s)
prune_stale_builds() {
  local deps="$CARGO_TARGET_DIR/debug/deps"
  [ -d "$deps" ] || return 0
  find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended -regex '.*-[0-9a-f]{16}' \
    -printf '%T@ %p\n' | awk -v start="$run_start" '
      { n = $2; sub(/-[0-9a-f]+$/, "", n); when[$2] = $1; name[$2] = n; if ($1 >= start) fresh[n] = 1 }
      END { for (f in when) if (fresh[name[f]] && when[f] < start) print f }' \
    | while read -r old; do rm -f "$old" "$old.d"; done
}
free_gb=$(( $(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }') / 1024 / 1024 ))
if (( free_gb < 12 )); then
  echo "test.sh: only ${free_gb} GB free beside $CARGO_TARGET_DIR; removing its incremental caches" >&2
  rm -rf "$CARGO_TARGET_DIR"/debug/incremental "$CARGO_TARGET_DIR"/release/incremental
fi
# A CI run builds each crate once: incremental caches would only take disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
trap prune_stale_builds EXIT

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-fail-fast

# The appliance (issue 7): the unit's exposure, then the x86-64 test image built from Debian
# packages and booted under qemu (image/README.md). SKIP_IMAGE=1 leaves out the image (about
# 10 minutes on 2 cores; it needs root for mmdebstrap's unpacked root file system).
step_start=$SECONDS
systemd-analyze security --offline=yes --threshold=15 --no-pager systemd/streamp2p.service >/dev/null \
  || { echo "test.sh: streamp2p.service exposure is above 1.5;" \
         "see systemd-analyze security --offline=yes systemd/streamp2p.service" >&2; exit 1; }
# The Raspberry Pi's A/B backend (tryboot), walked through an update and a rollback.
bash image/test/tryboot-test.sh
if [ "${SKIP_IMAGE:-}" != 1 ]; then
  AS_ROOT=()
  if [ "$(id -u)" -ne 0 ]; then AS_ROOT=(sudo --preserve-env=CARGO_TARGET_DIR,PATH,HOME); fi
  "${AS_ROOT[@]}" bash image/build.sh amd64
  "${AS_ROOT[@]}" bash image/boot-test.sh
  # Issue 17: A/B updates through RAUC on the same image (refusals, update, power cut,
  # rollback); about 10 minutes.
  update_start=$SECONDS
  "${AS_ROOT[@]}" bash image/update-test.sh
  echo "test.sh: update test took $((SECONDS - update_start)) s" >&2
fi
echo "test.sh: appliance step took $((SECONDS - step_start)) s" >&2
