#!/bin/sh
# RAUC bundle hook of the Raspberry Pi bundles (image/build.sh arm64 packs it as hook.sh).
# A bundle carries one boot partition image (boot.vfat, slot A's cmdline.txt) for either
# slot; after RAUC wrote it into boot-a or boot-b (and mounted it), this points its
# cmdline.txt at that slot's root and slot name:
#   boot.0 -> root=PARTLABEL=rootfs-a ... rauc.slot=A
#   boot.1 -> root=PARTLABEL=rootfs-b ... rauc.slot=B
# image/build.sh runs it the same way (RAUC_SLOT_NAME=boot.1, RAUC_SLOT_MOUNT_POINT=a folder)
# to make boot-b's cmdline.txt from boot-a's.
set -eu
case "${1:-}" in
  slot-post-install)
    case "${RAUC_SLOT_NAME:-}" in
      boot.0) slot=A root=rootfs-a ;;
      boot.1) slot=B root=rootfs-b ;;
      *) exit 0 ;;
    esac
    f="$RAUC_SLOT_MOUNT_POINT/cmdline.txt"
    [ -f "$f" ] || { echo "bundle-hook: no cmdline.txt in $RAUC_SLOT_NAME" >&2; exit 1; }
    sed -e "s/root=PARTLABEL=rootfs-[ab]/root=PARTLABEL=$root/" -e "s/rauc\.slot=[AB]/rauc.slot=$slot/" \
      "$f" > "$f.new"
    grep -q "root=PARTLABEL=$root .*rauc\.slot=$slot" "$f.new" \
      || { echo "bundle-hook: cmdline.txt does not name root= and rauc.slot=" >&2; rm -f "$f.new"; exit 1; }
    sync
    mv "$f.new" "$f"
    sync
    ;;
esac
