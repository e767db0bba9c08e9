#!/usr/bin/env bash
# The Raspberry Pi's A/B backend (board/rpi/streamp2p-tryboot) walked through an update and a
# rollback on a folder standing for the card's first partition, as RAUC and the box call it.
# What the firmware does (boot [all], or [tryboot] once after `reboot "0 tryboot"`) is
# played by `firmware_boots` below, from the documented autoboot.txt rules; the real
# firmware needs a real Pi (image/README.md).
set -euo pipefail
die() { echo "image/test/tryboot-test.sh: FAIL: $*" >&2; exit 1; }
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
export AB_DIR="$T" CMDLINE="$T/cmdline"
tb() { sh "$REPO/board/rpi/streamp2p-tryboot" "$@"; }
cp "$REPO/board/rpi/autoboot.txt" "$T/autoboot.txt"
# firmware_boots tryboot|normal: which slot the firmware starts, written to the command line.
firmware_boots() {
  local section=all
  [ "$1" = tryboot ] && section=tryboot
  local part
  part="$(awk -v want="[$section]" '/^\[/ {in_it = ($0 == want)} in_it && /^boot_partition=/ {sub(/^boot_partition=/, ""); print; exit}' "$T/autoboot.txt")"
  case "$part" in 2) echo "root=PARTLABEL=rootfs-a rauc.slot=A" > "$CMDLINE" ;; 3) echo "root=PARTLABEL=rootfs-b rauc.slot=B" > "$CMDLINE" ;; *) die "partition $part" ;; esac
}
expect() { [ "$2" = "$3" ] || die "$1: expected '$3', got '$2'"; }
reboot() { if [ "$(tb reboot-argument)" = "0 tryboot" ]; then firmware_boots tryboot; else firmware_boots normal; fi; }

firmware_boots normal
expect "factory slot" "$(tb get-primary)" A
expect "A's state" "$(tb get-state A)" good
# RAUC installs into B: marks it bad while writing, then good and primary.
tb set-state B bad
expect "B while written" "$(tb get-state B)" bad
tb set-state B good
tb set-primary B
expect "primary after install" "$(tb get-primary)" B
expect "reboot argument" "$(tb reboot-argument)" "0 tryboot"
reboot
expect "booted after install" "$(sed 's/.*rauc.slot=//' "$CMDLINE")" B
# B is healthy: the node marks it good, which commits it.
tb set-state B good
expect "primary once committed" "$(tb get-primary)" B
expect "no tryboot once committed" "$(tb reboot-argument)" ""
reboot
expect "B stays after a plain reboot" "$(sed 's/.*rauc.slot=//' "$CMDLINE")" B

# Version 3 into A never becomes healthy: its one try ends with a plain reboot.
tb set-state A bad; tb set-state A good; tb set-primary A
reboot
expect "A gets its try" "$(sed 's/.*rauc.slot=//' "$CMDLINE")" A
expect "no second try from A itself" "$(tb reboot-argument)" ""
firmware_boots normal # the boot deadline's plain reboot (or a hang and the watchdog)
expect "back on B by itself" "$(sed 's/.*rauc.slot=//' "$CMDLINE")" B
# The node finds its install note on B and marks A bad.
tb set-state A bad
expect "primary after rollback" "$(tb get-primary)" B
expect "A abandoned" "$(tb get-state A)" bad
expect "nothing pending" "$(tb reboot-argument)" ""
grep -qx 'tryboot_a_b=1' "$T/autoboot.txt" || die "autoboot.txt lost tryboot_a_b"
echo "tryboot-test: PASS"
