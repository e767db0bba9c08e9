#!/usr/bin/env bash
# Builds streamp2p_tryboot.ko (board/rpi/tryboot-notify) for one Debian arm64 kernel, on the
# build host, with the cross gcc the node is built with:
#   board/rpi/build-tryboot-module.sh KERNEL_RELEASE PACKAGE_VERSION WORKDIR
#   e.g. 6.1.0-50-arm64 6.1.176-1 /tmp/work   ->   WORKDIR/streamp2p_tryboot.ko
# The headers are Debian's own for that exact kernel (linux-headers-*-arm64 and -common) with
# its linux-kbuild for the host: that package is Multi-Arch: foreign so that modules can be
# cross-built this way. apt downloads them (checked against the signed archive), and nothing is
# installed on the host: they are unpacked in WORKDIR.
set -euo pipefail

die() { echo "board/rpi/build-tryboot-module.sh: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: build-tryboot-module.sh KERNEL_RELEASE PACKAGE_VERSION WORKDIR"
KVER="$1" VERSION="$2" WORK="$3"
SRC="$(cd "$(dirname "$0")/tryboot-notify" && pwd)"
case "$KVER" in
  *-arm64) ;;
  *) die "$KVER is not a Debian arm64 kernel release" ;;
esac
FLAVOURLESS="${KVER%-arm64}"              # 6.1.0-50
SERIES="$(echo "$KVER" | cut -d. -f1-2)"  # 6.1
command -v aarch64-linux-gnu-gcc-12 >/dev/null || die "aarch64-linux-gnu-gcc-12 missing (gcc-aarch64-linux-gnu)"

rm -rf "$WORK" && mkdir -p "$WORK/debs" "$WORK/root"
pkgs=("linux-headers-$KVER:arm64=$VERSION" "linux-headers-$FLAVOURLESS-common=$VERSION" "linux-kbuild-$SERIES=$VERSION")
fetch() { (cd "$WORK/debs" && apt-get -q -o APT::Sandbox::User=root download "${pkgs[@]}"); }
# The host's package lists may be older than the mirror the image was built from.
fetch || { apt-get update -q && fetch; } || die "cannot download ${pkgs[*]}"
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$WORK/root"; done

HEADERS="$WORK/root/usr/src/linux-headers-$KVER"
# Its Makefile includes the -common tree by absolute path (/usr/src/...): point it at ours.
sed -i "s|^include /usr/src/|include $WORK/root/usr/src/|" "$HEADERS/Makefile"
cp -r "$SRC" "$WORK/src"
make -s -C "$HEADERS" M="$WORK/src" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- modules \
  || die "the module did not build against $KVER"
# Debug information is most of its size and of no use on the box.
aarch64-linux-gnu-strip --strip-debug -o "$WORK/streamp2p_tryboot.ko" "$WORK/src/streamp2p_tryboot.ko"
# The kernel loads only a module made for its exact release.
strings "$WORK/streamp2p_tryboot.ko" | grep -q "^vermagic=$KVER SMP " \
  || die "streamp2p_tryboot.ko was not built for $KVER"
