#!/usr/bin/env bash
# Makes the bundles of the update test from what `image/build.sh amd64` left in image/out/amd64
# (rootfs-<N>.ext4, the release key), cheaply, without a second root file system build:
#   streamp2p-amd64-3.raucb  version 3, the same root file system (image-version 3), signed
#                            with the release key, with a RAUC post-install hook that breaks
#                            the node in the slot it was written to (streamp2p.service's
#                            ExecStart becomes /bin/false): the rollback test
#   streamp2p-amd64-4.raucb  version 4, signed with another, untrusted key: RAUC must refuse it
#   streamp2p-amd64-5.raucb  version 5, compatible=other-board, signed with the release key:
#                            RAUC must refuse it
# Each with its signed update manifest (image/sign-manifest.sh; 4's signed with the untrusted
# key, 5's saying other-board). 4 and 5 carry a tiny image: RAUC refuses them before reading it.
# Environment: OUT (default image/out/amd64), RELEASE_KEY/RELEASE_CERT as for build.sh.
set -euo pipefail
die() { echo "image/test/make-bundles.sh: $*" >&2; exit 1; }
log() { echo "image/test/make-bundles.sh: $*" >&2; }
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${OUT:-$REPO/image/out/amd64}"
ARCH=amd64
export RELEASE_KEY="${RELEASE_KEY:-$REPO/image/out/keys/test-release.key.pem}"
export RELEASE_CERT="${RELEASE_CERT:-$REPO/image/out/keys/test-release.cert.pem}"
[ -f "$RELEASE_KEY" ] && [ -f "$RELEASE_CERT" ] || die "no release key: run image/build.sh amd64 first"
ROOTFS="$(ls "$OUT"/rootfs-*.ext4 2>/dev/null | head -1)"
[ -n "$ROOTFS" ] || die "no $OUT/rootfs-<version>.ext4: run image/build.sh amd64 first"
command -v rauc >/dev/null && command -v debugfs >/dev/null || die "needs rauc and debugfs (e2fsprogs)"
W="$OUT/make-bundles"
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

# bundle DIR VERSION COMPATIBLE KEY CERT [hooks]: a verity bundle of DIR/rootfs.ext4.
bundle() {
  local dir="$1" version="$2" compatible="$3" key="$4" cert="$5" hooks="${6:-}"
  local out="$OUT/streamp2p-$ARCH-$version.raucb"
  {
    printf '[update]\ncompatible=%s\nversion=%s\n\n[bundle]\nformat=verity\n\n' "$compatible" "$version"
    if [ -n "$hooks" ]; then printf '[hooks]\nfilename=hook.sh\n\n'; fi
    printf '[image.rootfs]\nfilename=rootfs.ext4\n'
    if [ -n "$hooks" ]; then printf 'hooks=%s\n' "$hooks"; fi
  } > "$dir/manifest.raucm"
  rm -f "$out"
  rauc bundle --cert="$cert" --key="$key" --mksquashfs-args="-comp zstd -Xcompression-level 3" \
    "$dir" "$out" > "$W/rauc.log" 2>&1 \
    || { cat "$W/rauc.log" >&2; die "rauc bundle ($version) failed"; }
  log "$out ($(du -h "$out" | cut -f1))"
}

# (a) version 3, broken by its post-install hook.
log "version 3 (breaks the node in its slot) from $ROOTFS"
mkdir "$W/v3"
cp --sparse=always "$ROOTFS" "$W/v3/rootfs.ext4"
echo 3 > "$W/image-version"
chmod 0644 "$W/image-version"
debugfs -w -R "rm /usr/share/streamp2p/image-version" "$W/v3/rootfs.ext4" >/dev/null 2>&1
debugfs -w -f - "$W/v3/rootfs.ext4" >/dev/null 2>&1 <<EOF
cd /usr/share/streamp2p
write $W/image-version image-version
EOF
[ "$(debugfs -R "cat /usr/share/streamp2p/image-version" "$W/v3/rootfs.ext4" 2>/dev/null)" = 3 ] \
  || die "cannot set image-version 3 in the copied root file system"
cat > "$W/v3/hook.sh" <<'EOF'
#!/bin/sh
# RAUC slot hook (test bundle 3 only): the node in the slot just written cannot start.
set -e
case "$1" in
  slot-post-install)
    d="$RAUC_SLOT_MOUNT_POINT/etc/systemd/system/streamp2p.service.d"
    mkdir -p "$d"
    printf '[Service]\nExecStart=\nExecStart=/bin/false\n' > "$d/broken-by-test-bundle.conf"
    echo "test bundle 3: streamp2p.service broken in slot $RAUC_SLOT_BOOTNAME"
    ;;
esac
EOF
chmod 0755 "$W/v3/hook.sh"
bundle "$W/v3" 3 "streamp2p-$ARCH" "$RELEASE_KEY" "$RELEASE_CERT" post-install
"$REPO/image/sign-manifest.sh" 3 "$OUT/streamp2p-$ARCH-3.raucb" \
  "Test update 3: installs, but the node cannot start in it, so the box must roll back by itself."

# A tiny root file system for the bundles RAUC must refuse before reading it.
mkdir -p "$W/tiny/root/usr/share/streamp2p"
echo "not a system" > "$W/tiny/root/usr/share/streamp2p/image-version"
# RAUC wants a squashfs larger than 4 KiB: some bytes that do not compress.
head -c 65536 /dev/urandom > "$W/tiny/root/filler"

# (b) version 4, signed with an untrusted key.
log "version 4 (untrusted key)"
KEYS="$OUT/untrusted-key"
mkdir -p "$KEYS"
if [ ! -f "$KEYS/key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/O=not streamp2p/CN=untrusted test key" -keyout "$KEYS/key.pem" -out "$KEYS/cert.pem" 2>/dev/null \
    || die "openssl cannot make the untrusted key"
fi
mkdir "$W/v4"
mkfs.ext4 -q -d "$W/tiny/root" "$W/v4/rootfs.ext4" 8M
bundle "$W/v4" 4 "streamp2p-$ARCH" "$KEYS/key.pem" "$KEYS/cert.pem"
RELEASE_KEY="$KEYS/key.pem" RELEASE_CERT="$KEYS/cert.pem" "$REPO/image/sign-manifest.sh" 4 \
  "$OUT/streamp2p-$ARCH-4.raucb" "Test update 4: signed with a key the box does not trust."

# (c) version 5, for another board, signed with the release key.
log "version 5 (compatible=other-board)"
mkdir "$W/v5"
mkfs.ext4 -q -d "$W/tiny/root" "$W/v5/rootfs.ext4" 8M
bundle "$W/v5" 5 other-board "$RELEASE_KEY" "$RELEASE_CERT"
COMPATIBLE=other-board "$REPO/image/sign-manifest.sh" 5 "$OUT/streamp2p-$ARCH-5.raucb" \
  "Test update 5: made for another board."
log "done"
