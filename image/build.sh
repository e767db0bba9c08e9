#!/usr/bin/env bash
# Builds a bootable disk image of the appliance from Debian packages:
#   image/build.sh arm64   Raspberry Pi 4 image (raspi-firmware, linux-image-arm64), the node
#                          cross-built for aarch64 with Debian's cross gcc
#   image/build.sh amd64   x86-64 test image of the same system (booted by image/boot-test.sh)
# Output in image/out/<arch>/: streamp2p-<arch>.img, plus vmlinuz and initrd.img for qemu.
#
# Route (image/README.md has the why): mmdebstrap --mode=unshare writes a tar (a chroot with
# live mounts is never copied), the tar is unpacked and the overlay added, then the image is
# assembled without loop devices: mkfs.ext4 -d, mkfs.vfat + mcopy, sfdisk, dd.
#
# Environment:
#   SSH_KEY=FILE      install openssh-server, key-only login for root with this public key
#                     (no SSH at all by default)
#   STREAMP2P_BIN=F   use this node binary instead of building it
#   CONFIG=FILE       /etc/streamp2p/config.toml (default: image/overlay one; amd64: the test
#                     config with a sine tone as line-in)
#   DATA_MB=N         size of the data partition (/var), default 512
#   MIRROR=URL        Debian mirror, default http://deb.debian.org/debian
set -euo pipefail

die() { echo "image/build.sh: $*" >&2; exit 1; }
log() { echo "image/build.sh: $*" >&2; }

ARCH="${1:-arm64}"
case "$ARCH" in
  arm64) RUST_TARGET=aarch64-unknown-linux-gnu; KERNEL=linux-image-arm64 ;;
  amd64) RUST_TARGET=x86_64-unknown-linux-gnu; KERNEL=linux-image-amd64 ;;
  *) die "usage: image/build.sh [arm64|amd64] (got '$ARCH')" ;;
esac
[ "$(id -u)" -eq 0 ] || die "run as root (unpacking the root file system keeps its owners)"

REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$REPO/image/out/$ARCH"
WORK="$OUT/work"
SUITE=bookworm
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
DATA_MB="${DATA_MB:-512}"
BOOT_MB=256
if [ "$ARCH" = amd64 ]; then
  CONFIG="${CONFIG:-$REPO/image/test/config.toml}"
else
  CONFIG="${CONFIG:-$REPO/image/overlay/etc/streamp2p/config.toml}"
fi
[ -f "$CONFIG" ] || die "config file $CONFIG not found"
if [ -n "${SSH_KEY:-}" ]; then
  [ -f "$SSH_KEY" ] || die "SSH_KEY=$SSH_KEY: no such public key file"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamp2p/target}"
START=$SECONDS
step() { log "[$((SECONDS - START))s] $*"; }

# --- Host tools, from Debian ----------------------------------------------------------------
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have_cmd mmdebstrap || need+=(mmdebstrap)
have_cmd mkfs.ext4 || need+=(e2fsprogs)
have_cmd mkfs.vfat || need+=(dosfstools)
have_cmd mcopy || need+=(mtools)
have_cmd sfdisk || need+=(fdisk)
have_cmd newuidmap || need+=(uidmap)
if [ "$ARCH" = arm64 ]; then
  have_cmd qemu-aarch64-static || need+=(qemu-user-static)
  have_cmd aarch64-linux-gnu-gcc || need+=(gcc-aarch64-linux-gnu)
  have_pkg libc6-dev-arm64-cross || need+=(libc6-dev-arm64-cross)
  # The node links ALSA and OpenSSL: their arm64 development files, through multiarch.
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding the arm64 architecture to dpkg (for libasound2-dev:arm64, libssl-dev:arm64)"
    dpkg --add-architecture arm64
    need_update=1
  fi
  have_pkg libasound2-dev:arm64 || need+=(libasound2-dev:arm64)
  have_pkg libssl-dev:arm64 || need+=(libssl-dev:arm64)
fi
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" \
    || die "cannot install ${need[*]}"
elif [ -n "${need_update:-}" ]; then
  apt-get update || die "apt-get update failed"
fi

# Unshare mode maps the chroot's users onto a subordinate id range of the calling user.
me="$(id -un)"
for f in /etc/subuid /etc/subgid; do
  if ! grep -q "^$me:" "$f" 2>/dev/null; then
    log "adding $me:100000:65536 to $f (mmdebstrap --mode=unshare needs a subordinate id range)"
    echo "$me:100000:65536" >> "$f"
  fi
done

# An arm64 root file system runs its maintainer scripts under qemu-user: binfmt_misc must be
# mounted and qemu-aarch64 registered (containers often have neither).
if [ "$ARCH" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || die "cannot mount binfmt_misc (needed to run arm64 programs under qemu-user)"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || die "$conf missing: reinstall qemu-user-static"
    # The file's line is the binfmt_misc register string itself.
    grep -v '^#' "$conf" > /proc/sys/fs/binfmt_misc/register \
      || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
fi

# --- The node binary --------------------------------------------------------------------------
if [ -n "${STREAMP2P_BIN:-}" ]; then
  BIN="$STREAMP2P_BIN"
  [ -x "$BIN" ] || die "STREAMP2P_BIN=$BIN is not an executable"
else
  step "building the node for $RUST_TARGET (release)"
  cd "$REPO"
  [ -d node_modules ] || npm ci --no-audit --no-fund || die "npm ci failed (build.rs needs node_modules)"
  if [ "$ARCH" = arm64 ]; then
    rustup target list --installed | grep -qx "$RUST_TARGET" || rustup target add "$RUST_TARGET"
    # Debian's cross gcc links; pkg-config finds the arm64 .pc files of ALSA and OpenSSL.
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
    export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
    export PKG_CONFIG_ALLOW_CROSS=1
    export PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
    cargo build --release --locked --target "$RUST_TARGET" || die "cross build failed"
    BIN="$CARGO_TARGET_DIR/$RUST_TARGET/release/streamp2p"
  else
    cargo build --release --locked || die "release build failed"
    BIN="$CARGO_TARGET_DIR/release/streamp2p"
  fi
fi

# --- Root file system -------------------------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK"
PKGS=(
  systemd-sysv udev dbus "$KERNEL" initramfs-tools
  # fsck at boot; sfdisk and resize2fs to grow the data partition on the first boot.
  e2fsprogs fdisk
  # Runtime libraries of the node; CA roots for https/wss trackers.
  libasound2 libssl3 ca-certificates
  # The Pi has no clock battery: the time comes from NTP.
  systemd-timesyncd
  # streamp2p.local and the advertised web page.
  avahi-daemon libnss-mdns
  network-manager
)
if [ "$ARCH" = arm64 ]; then
  # comitup opens the streamp2p-setup access point when there is no network; it needs Wi-Fi,
  # so the x86-64 test image (no Wi-Fi under qemu) does without it.
  PKGS+=(raspi-firmware firmware-brcm80211 wireless-regdb comitup)
fi
[ -z "${SSH_KEY:-}" ] || PKGS+=(openssh-server)

step "mmdebstrap $SUITE $ARCH (unshare mode, tar output)"
# update-initramfs is diverted while packages install (kernel, udev, systemd... would each
# regenerate it; under qemu-user that was most of the arm64 time) and run once at the end.
mmdebstrap --mode=unshare --variant=minbase --architectures="$ARCH" \
  --components="main non-free-firmware" \
  --include="$(IFS=,; echo "${PKGS[*]}")" \
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && printf "#!/bin/sh\nexit 0\n" > "$1/usr/sbin/update-initramfs" && chmod 755 "$1/usr/sbin/update-initramfs"' \
  --customize-hook='rm "$1/usr/sbin/update-initramfs" && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs && chroot "$1" update-initramfs -c -k all' \
  --customize-hook='chroot "$1" apt-get clean' \
  "$SUITE" "$WORK/rootfs.tar" "$MIRROR" || die "mmdebstrap failed"

step "unpacking and configuring the root file system"
ROOTDIR="$WORK/root"
mkdir "$ROOTDIR"
tar --numeric-owner -xpf "$WORK/rootfs.tar" -C "$ROOTDIR" || die "cannot unpack rootfs.tar"
rm "$WORK/rootfs.tar"

install -m 0755 -o root -g root "$BIN" "$ROOTDIR/usr/bin/streamp2p"
install -m 0644 -D "$REPO/README.md" "$ROOTDIR/usr/share/doc/streamp2p/README.md"
install -m 0644 "$REPO/systemd/streamp2p.service" "$ROOTDIR/etc/systemd/system/streamp2p.service"
install -m 0644 "$REPO/systemd/streamp2p-sysctl.conf" "$ROOTDIR/etc/sysctl.d/50-streamp2p.conf"
install -m 0644 "$REPO/systemd/streamp2p-tmpfiles.conf" "$ROOTDIR/etc/tmpfiles.d/streamp2p.conf"
install -m 0644 "$REPO/systemd/90-streamp2p-usb.rules" "$ROOTDIR/etc/udev/rules.d/90-streamp2p-usb.rules"
# The overlay: fstab, hostname, avahi service, NetworkManager and journald settings, the
# first-boot growth of the data partition. Modes are git's (0755 for scripts, else 0644).
(cd "$REPO/image/overlay" && find . -type f) | while read -r f; do
  mode=0644
  [ ! -x "$REPO/image/overlay/$f" ] || mode=0755
  install -m "$mode" -o root -g root -D "$REPO/image/overlay/$f" "$ROOTDIR/$f"
done
systemctl --root="$ROOTDIR" enable streamp2p-grow-data.service >/dev/null \
  || die "cannot enable streamp2p-grow-data.service"
install -m 0644 "$CONFIG" "$ROOTDIR/etc/streamp2p/config.toml"
mkdir -p "$ROOTDIR/media"
# NetworkManager writes resolv.conf under /run (the root is read-only).
ln -sfn ../run/NetworkManager/resolv.conf "$ROOTDIR/etc/resolv.conf"
# machine-id: empty, so systemd makes one at boot (never one baked in and shared by every
# card); with a read-only root it lives in /run.
: > "$ROOTDIR/etc/machine-id"
ln -sfn /etc/machine-id "$ROOTDIR/var/lib/dbus/machine-id"
systemctl --root="$ROOTDIR" enable streamp2p.service >/dev/null \
  || die "cannot enable streamp2p.service in the image"
# Hardware watchdog: systemd pets it, so a hung kernel or PID 1 reboots the box.
mkdir -p "$ROOTDIR/etc/systemd/system.conf.d"
printf '[Manager]\nRuntimeWatchdogSec=15s\nRebootWatchdogSec=2min\n' \
  > "$ROOTDIR/etc/systemd/system.conf.d/watchdog.conf"

if [ -n "${SSH_KEY:-}" ]; then
  # Key login only; host keys are made on the data partition at first start (the root is
  # read-only, and keys baked into the image would be shared by every card).
  install -m 0600 -D "$SSH_KEY" "$ROOTDIR/root/.ssh/authorized_keys"
  rm -f "$ROOTDIR"/etc/ssh/ssh_host_*
  printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nHostKey /var/lib/ssh/ssh_host_ed25519_key\n' \
    > "$ROOTDIR/etc/ssh/sshd_config.d/streamp2p.conf"
  mkdir -p "$ROOTDIR/etc/systemd/system/ssh.service.d"
  printf '[Service]\nExecStartPre=\nExecStartPre=/bin/sh -c "mkdir -p /var/lib/ssh && test -f /var/lib/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N \\"\\" -f /var/lib/ssh/ssh_host_ed25519_key"\nExecStartPre=/usr/sbin/sshd -t\n' \
    > "$ROOTDIR/etc/systemd/system/ssh.service.d/streamp2p.conf"
  systemctl --root="$ROOTDIR" enable ssh.service >/dev/null || die "cannot enable ssh.service"
fi

if [ "$ARCH" = amd64 ]; then
  # The test image reports from inside the guest what image/boot-test.sh checks.
  install -m 0644 -D "$REPO/image/test/streamp2p-syscall-log.conf" \
    "$ROOTDIR/etc/systemd/system/streamp2p.service.d/test-syscall-log.conf"
  install -m 0644 "$REPO/image/test/streamp2p-test-report.service" "$ROOTDIR/etc/systemd/system/"
  install -m 0755 -D "$REPO/image/test/streamp2p-test-report" "$ROOTDIR/usr/local/sbin/streamp2p-test-report"
  systemctl --root="$ROOTDIR" enable streamp2p-test-report.service >/dev/null \
    || die "cannot enable streamp2p-test-report.service"
fi
if [ "$ARCH" = arm64 ]; then
  install -m 0644 "$REPO/board/rpi/asound.conf" "$ROOTDIR/etc/asound.conf"
  install -m 0644 "$REPO/board/rpi/comitup.conf" "$ROOTDIR/etc/comitup.conf"
  install -m 0644 "$REPO/board/rpi/modprobe-audio.conf" "$ROOTDIR/etc/modprobe.d/streamp2p-audio.conf"
  install -m 0755 "$REPO/board/rpi/90-streamp2p-setup-ap" \
    "$ROOTDIR/etc/NetworkManager/dispatcher.d/90-streamp2p-setup-ap"
fi

# Kernel and initrd, by fixed names (qemu -kernel/-initrd, and config.txt on the Pi).
KVER="$(basename "$(ls -d "$ROOTDIR"/lib/modules/* | sort -V | tail -1)")"
[ -f "$ROOTDIR/boot/vmlinuz-$KVER" ] || die "no kernel in the root file system"
[ -f "$ROOTDIR/boot/initrd.img-$KVER" ] || die "no initramfs for $KVER (update-initramfs failed?)"
cp "$ROOTDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
cp "$ROOTDIR/boot/initrd.img-$KVER" "$OUT/initrd.img"

# --- Partitions -------------------------------------------------------------------------------
step "assembling the partitions (kernel $KVER)"
BOOTDIR="$WORK/boot"
mkdir -p "$BOOTDIR"
cp "$OUT/vmlinuz" "$OUT/initrd.img" "$BOOTDIR/"
if [ "$ARCH" = arm64 ]; then
  # What the Pi's boot ROM and GPU firmware read: firmware blobs, device trees, config.txt.
  cp -r "$ROOTDIR"/usr/lib/raspi-firmware/. "$BOOTDIR/"
  cp "$ROOTDIR"/usr/lib/linux-image-"$KVER"/broadcom/bcm27*rpi*.dtb "$BOOTDIR/"
  cp "$REPO/board/rpi/config.txt" "$REPO/board/rpi/cmdline.txt" "$BOOTDIR/"
fi
# The data partition is the root file system's /var; the root keeps an empty /var to mount on.
mv "$ROOTDIR/var" "$WORK/var"
mkdir -m 0755 "$ROOTDIR/var"

rm -f "$WORK/boot.vfat" "$WORK/root.ext4" "$WORK/data.ext4"
mkfs.vfat -n BOOT -C "$WORK/boot.vfat" $((BOOT_MB * 1024)) >/dev/null || die "mkfs.vfat failed"
mcopy -s -i "$WORK/boot.vfat" "$BOOTDIR"/* ::/ || die "mcopy into the boot partition failed"
root_mb=$(( $(du -sm "$ROOTDIR" | cut -f1) * 5 / 4 + 64 ))
mkfs.ext4 -q -L ROOT -d "$ROOTDIR" "$WORK/root.ext4" "${root_mb}M" || die "mkfs.ext4 (root) failed"
mkfs.ext4 -q -L DATA -d "$WORK/var" "$WORK/data.ext4" "${DATA_MB}M" || die "mkfs.ext4 (data) failed"

# msdos label: BOOT (FAT, from 4 MiB, what the Pi firmware reads), ROOT, DATA.
IMG="$OUT/streamp2p-$ARCH.img"
MIB=2048 # sectors
boot_start=$((4 * MIB)); boot_size=$((BOOT_MB * MIB))
root_start=$((boot_start + boot_size)); root_size=$((root_mb * MIB))
data_start=$((root_start + root_size)); data_size=$((DATA_MB * MIB))
rm -f "$IMG"
truncate -s $(( (data_start + data_size) * 512 )) "$IMG"
sfdisk --quiet "$IMG" <<EOF || die "sfdisk failed"
label: dos
start=$boot_start, size=$boot_size, type=c, bootable
start=$root_start, size=$root_size, type=83
start=$data_start, size=$data_size, type=83
EOF
dd if="$WORK/boot.vfat" of="$IMG" bs=512 seek=$boot_start conv=notrunc,sparse status=none
dd if="$WORK/root.ext4" of="$IMG" bs=512 seek=$root_start conv=notrunc,sparse status=none
dd if="$WORK/data.ext4" of="$IMG" bs=512 seek=$data_start conv=notrunc,sparse status=none
rm -rf "$WORK"

step "done: $IMG ($(du -h --apparent-size "$IMG" | cut -f1), $(du -h "$IMG" | cut -f1) used), kernel $KVER"
