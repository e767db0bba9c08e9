#!/usr/bin/env bash
# Checks, under qemu's Raspberry Pi 3 B (raspi3b: the only Pi qemu 7.2 has with the VideoCore
# mailbox), that the arm64 image's kernel passes reboot "0 tryboot" on to the Pi firmware:
# what the firmware's A/B needs to try an installed slot (board/rpi/README.md).
#
#   image/test/rpi-tryboot-qemu.sh        after image/build.sh arm64
#
# From the image itself: the kernel of slot A's boot partition, and the Pi 3 B device tree,
# streamp2p_tryboot.ko and bcm2835_wdt.ko of slot A's root. An initramfs of one program
# (rpi-tryboot-init.c) loads them and restarts; qemu's trace of the mailbox shows what the
# "firmware" was told. Three boots:
#   1. Debian's kernel alone, "0 tryboot": no SET_REBOOT_FLAGS (the gap the module fills)
#   2. with the module, "0 tryboot": SET_REBOOT_FLAGS, flags 1, before NOTIFY_REBOOT
#   3. with the module, "0": SET_REBOOT_FLAGS, flags 0 (a plain restart clears a stale flag)
# Each restart goes through the watchdog to qemu, which exits (-no-reboot). About 5 s a boot.
# Not in CI (the arm64 image is built outside it); it needs the cross gcc build.sh installs.
set -euo pipefail

die() { echo "rpi-tryboot-qemu: FAIL: $*" >&2; exit 1; }
log() { echo "rpi-tryboot-qemu: $*" >&2; }

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
IMG="$REPO/image/out/arm64/streamp2p-arm64.img"
[ -f "$IMG" ] || die "$IMG missing: run image/build.sh arm64 first"
for cmd in qemu-system-aarch64 aarch64-linux-gnu-gcc debugfs mcopy cpio sfdisk; do
  command -v "$cmd" >/dev/null || die "$cmd missing"
done
SET_REBOOT_FLAGS=0x00038064
NOTIFY_REBOOT=0x00030048

WORK="$(mktemp -d /tmp/rpi-tryboot.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

offset() {
  sfdisk -J "$IMG" | python3 -c "import json,sys; print(next(p['start'] for p in json.load(sys.stdin)['partitiontable']['partitions'] if p['name']==sys.argv[1]) * 512)" "$1"
}
BOOT="$IMG@@$(offset boot-a)"
ROOT="$IMG?offset=$(offset rootfs-a)"
mcopy -i "$BOOT" ::/vmlinuz "$WORK/" || die "no kernel on boot-a"
KVER="$(debugfs -R "ls /lib/modules" "$ROOT" 2>/dev/null | tr -s ' ' '\n' | grep -- '-arm64$' | head -1)"
[ -n "$KVER" ] || die "no kernel modules in rootfs-a"
# The Pi 3 B's device tree comes with the same kernel package (boot-a carries the Pi 4's).
debugfs -R "dump /usr/lib/linux-image-$KVER/broadcom/bcm2837-rpi-3-b.dtb $WORK/bcm2837-rpi-3-b.dtb" "$ROOT" 2>/dev/null
[ -s "$WORK/bcm2837-rpi-3-b.dtb" ] || die "rootfs-a has no Pi 3 B device tree for $KVER"
mkdir "$WORK/initramfs"
debugfs -R "dump /lib/modules/$KVER/updates/streamp2p_tryboot.ko $WORK/initramfs/streamp2p_tryboot.ko" "$ROOT" 2>/dev/null
debugfs -R "dump /lib/modules/$KVER/kernel/drivers/watchdog/bcm2835_wdt.ko $WORK/initramfs/bcm2835_wdt.ko" "$ROOT" 2>/dev/null
[ -s "$WORK/initramfs/streamp2p_tryboot.ko" ] || die "rootfs-a has no streamp2p_tryboot.ko for $KVER"
[ -s "$WORK/initramfs/bcm2835_wdt.ko" ] || die "rootfs-a has no bcm2835_wdt.ko"
# udev loads the module by the firmware's modalias: depmod must have listed it.
debugfs -R "cat /lib/modules/$KVER/modules.alias" "$ROOT" 2>/dev/null \
  | grep -q '^alias of:N\*T\*Craspberrypi,bcm2835-firmwareC\* streamp2p_tryboot$' \
  || die "modules.alias of rootfs-a does not load streamp2p_tryboot for the Pi firmware"
aarch64-linux-gnu-gcc -static -O2 -Wall -o "$WORK/initramfs/init" "$REPO/image/test/rpi-tryboot-init.c"
(cd "$WORK/initramfs" && find . | cpio -o -H newc -R 0:0 2>/dev/null) > "$WORK/initramfs.cpio"

# boot NAME KERNEL-ARGS: serial console in $WORK/NAME.serial, mailbox trace in $WORK/NAME.trace
boot() {
  local name="$1" args="$2"
  log "boot $name: $args"
  timeout 300 qemu-system-aarch64 -M raspi3b -m 1G \
    -kernel "$WORK/vmlinuz" -dtb "$WORK/bcm2837-rpi-3-b.dtb" -initrd "$WORK/initramfs.cpio" \
    -append "console=ttyAMA0 rdinit=/init $args" \
    -display none -serial stdio -monitor none -no-reboot \
    -trace bcm2835_mbox_property -D "$WORK/$name.trace" > "$WORK/$name.serial" 2>&1 \
    || { tail -20 "$WORK/$name.serial" >&2; die "boot $name: qemu did not restart by itself (timeout or error)"; }
  ! grep -q "RESULT" "$WORK/$name.serial" || { tail -20 "$WORK/$name.serial" >&2; die "boot $name: $(grep RESULT "$WORK/$name.serial")"; }
  grep -q "Restarting system with command '0" "$WORK/$name.serial" || die "boot $name: the kernel did not restart"
}
# The mailbox tags in the order the "firmware" got them.
tags() { grep -o 'tag:0x[0-9a-f]*' "$WORK/$1.trace" | cut -d: -f2; }

boot control "streamp2p_reboot=tryboot streamp2p_tryboot=off"
! tags control | grep -qx "$SET_REBOOT_FLAGS" || die "control: Debian's kernel alone set the reboot flags"
tags control | grep -qx "$NOTIFY_REBOOT" || die "control: no NOTIFY_REBOOT: the trace does not see the restart"
log "control: Debian's kernel alone restarts without telling the firmware about tryboot"

boot tryboot "streamp2p_reboot=tryboot"
grep -q "streamp2p_tryboot: reboot flags set to 0x1 (try the other slot once)" "$WORK/tryboot.serial" \
  || die "tryboot: the module did not set the tryboot flag"
[ "$(tags tryboot | grep -x -e "$SET_REBOOT_FLAGS" -e "$NOTIFY_REBOOT" | tr '\n' ' ')" = "$SET_REBOOT_FLAGS $NOTIFY_REBOOT " ] \
  || die "tryboot: expected SET_REBOOT_FLAGS then NOTIFY_REBOOT, got: $(tags tryboot | tr '\n' ' ')"
log "tryboot: SET_REBOOT_FLAGS (1) reached the mailbox, then NOTIFY_REBOOT"

boot plain "streamp2p_reboot=plain"
grep -q "streamp2p_tryboot: reboot flags set to 0x0 (plain restart)" "$WORK/plain.serial" \
  || { grep -E "tryboot|Restarting" "$WORK/plain.serial" >&2; die "plain: the module did not clear the flag"; }
tags plain | grep -qx "$SET_REBOOT_FLAGS" || die "plain: SET_REBOOT_FLAGS (0) did not reach the mailbox"
log "plain: SET_REBOOT_FLAGS (0) reached the mailbox"
echo "rpi-tryboot-qemu: PASS (kernel $KVER)"
