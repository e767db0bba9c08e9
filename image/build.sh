#!/usr/bin/env bash
# Builds a bootable disk image of the appliance from Debian packages:
#   image/build.sh arm64   Raspberry Pi 4/5 image (raspi-firmware, linux-image-arm64), the node
#                          cross-built for aarch64 with Debian's cross gcc; an A/B system: the
#                          Pi firmware's tryboot_a_b (autoboot.txt) boots slot A or B, RAUC
#                          (custom backend board/rpi/streamp2p-tryboot) installs updates
#   image/build.sh amd64   x86-64 test image of the same system (booted by image/boot-test.sh),
#                          an A/B system: GRUB (EFI) boots slot A or B, RAUC installs updates
# Output in image/out/<arch>/: streamp2p-<arch>.img, plus vmlinuz and initrd.img for qemu;
# also the signed update bundle streamp2p-<arch>-<BUNDLE_VERSION>.raucb made from the same
# trees, its signed manifest (.manifest) and its root file system
# (rootfs-<BUNDLE_VERSION>.ext4, for image/test/make-bundles.sh).
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
#   IMAGE_VERSION=V   the image's version (/usr/share/streamp2p/image-version), default 1
#   BUNDLE_VERSION=V  the version of the update bundle made beside the image, default 2
#   RELEASE_KEY=F RELEASE_CERT=F  PEM key and X.509 certificate that sign bundles and
#                     manifests (the certificate is the image's RAUC keyring). Unset: a
#                     throw-away test pair in image/out/keys/ (made once, then reused)
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
BOOT_MB=256   # arm64: each slot's boot partition (boot-a, boot-b)
AB_MB=32      # arm64: the first partition, autoboot.txt and the tryboot backend's state
ESP_MB=64
IMAGE_VERSION="${IMAGE_VERSION:-1}"
BUNDLE_VERSION="${BUNDLE_VERSION:-2}"
COMPATIBLE="streamp2p-$ARCH"
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
have_cmd openssl || need+=(openssl)
# RAUC and mksquashfs make the update bundle (both arches).
have_cmd rauc || need+=(rauc)
have_cmd mksquashfs || need+=(squashfs-tools)
if [ "$ARCH" = amd64 ]; then
  # GRUB for EFI (grub-mkimage, grub-editenv).
  have_cmd grub-mkimage || need+=(grub-common)
  [ -d /usr/lib/grub/x86_64-efi ] || need+=(grub-efi-amd64-bin)
fi
if [ "$ARCH" = arm64 ]; then
  have_cmd qemu-aarch64-static || need+=(qemu-user-static)
  # mmdebstrap checks with arch-test that the host can run arm64 programs.
  have_cmd arch-test || need+=(arch-test)
  have_cmd aarch64-linux-gnu-gcc || need+=(gcc-aarch64-linux-gnu)
  have_pkg libc6-dev-arm64-cross || need+=(libc6-dev-arm64-cross)
  # depmod, for the tryboot module added to the root file system.
  have_cmd depmod || need+=(kmod)
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
  # The system bus is dbus-broker: dbus-daemon 1.14 looks a caller's groups up by its user
  # name once any policy names a group (streamp2p-rauc.conf does), and cannot resolve
  # DynamicUser users (PID 1 starts it with SYSTEMD_NSS_DYNAMIC_BYPASS=1), so it drops every
  # DynamicUser connection; dbus-broker takes the groups from the socket (SO_PEERGROUPS).
  # libnss-systemd: DynamicUser names resolve for everything else (ps, id, logs).
  dbus-broker libnss-systemd
  # fsck at boot; sfdisk and resize2fs to grow the data partition on the first boot.
  e2fsprogs fdisk
  # Runtime libraries of the node; CA roots for https/wss trackers.
  libasound2 libssl3 ca-certificates
  # The Pi has no clock battery: the time comes from NTP.
  systemd-timesyncd
  # streamp2p.local and the advertised web page.
  avahi-daemon libnss-mdns
  network-manager
  # A/B updates: RAUC (rauc-service: its D-Bus service).
  rauc rauc-service
)
if [ "$ARCH" = arm64 ]; then
  # comitup opens the streamp2p-setup access point when there is no network; it needs Wi-Fi,
  # so the x86-64 test image (no Wi-Fi under qemu) does without it.
  PKGS+=(raspi-firmware firmware-brcm80211 wireless-regdb comitup)
fi
if [ "$ARCH" = amd64 ]; then
  # grub-editenv, for RAUC's GRUB backend.
  PKGS+=(grub-common)
fi
[ -z "${SSH_KEY:-}" ] || PKGS+=(openssh-server)

# --- Release key ------------------------------------------------------------------------------
# Bundles and update manifests are signed with it; the image trusts its certificate only.
# A real release key never comes near the repository: RELEASE_KEY/RELEASE_CERT point at it
# (image/README.md, "Keys").
if [ -n "${RELEASE_KEY:-}" ] || [ -n "${RELEASE_CERT:-}" ]; then
  [ -f "${RELEASE_KEY:-}" ] && [ -f "${RELEASE_CERT:-}" ] \
    || die "RELEASE_KEY and RELEASE_CERT must both name PEM files"
else
  KEYS="$REPO/image/out/keys"
  RELEASE_KEY="$KEYS/test-release.key.pem"
  RELEASE_CERT="$KEYS/test-release.cert.pem"
  if [ ! -f "$RELEASE_KEY" ] || [ ! -f "$RELEASE_CERT" ]; then
    log "making a throw-away test release key in $KEYS (RELEASE_KEY/RELEASE_CERT unset)"
    mkdir -p "$KEYS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/O=streamp2p test/CN=streamp2p throw-away test release key" \
      -keyout "$RELEASE_KEY" -out "$RELEASE_CERT" 2>/dev/null || die "openssl cannot make a test key"
  fi
fi
export RELEASE_KEY RELEASE_CERT

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
systemctl --root="$ROOTDIR" enable streamp2p-grow-data.service streamp2p-reboot.path >/dev/null \
  || die "cannot enable streamp2p-grow-data.service and streamp2p-reboot.path"
# dbus-broker.service takes the name dbus.service (Alias=) over dbus-daemon's.
systemctl --root="$ROOTDIR" enable dbus-broker.service >/dev/null 2>&1 \
  || die "cannot enable dbus-broker.service"
[ "$(readlink "$ROOTDIR/etc/systemd/system/dbus.service")" = /lib/systemd/system/dbus-broker.service ] \
  || die "dbus.service is not dbus-broker in the image"
# Static groups (streamp2p-update, the node's right to call RAUC): made now, the root is
# read-only at run time.
systemd-sysusers --root="$ROOTDIR" >/dev/null || die "systemd-sysusers --root failed"
grep -q '^streamp2p-update:' "$ROOTDIR/etc/group" \
  || die "no streamp2p-update group in the image"
# The image's version; the node shows RAUC's installed bundle version when it has one.
install -d -m 0755 "$ROOTDIR/usr/share/streamp2p"
echo "$IMAGE_VERSION" > "$ROOTDIR/usr/share/streamp2p/image-version"
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

# RAUC's system.conf: two slots A and B (rootfs-a, rootfs-b), bundles signed by the release
# key (keyring) in the verity format, the installed bundle of each slot recorded on the data
# partition. Arguments: the file's opening comment, the boot loader's [system] lines, a
# [handlers] line (or ""), and whether each root slot has its own boot partition (yes: the Pi).
rauc_system_conf() {
  local i slot part
  {
    printf '%s\n[system]\ncompatible=%s\n%s\n' "$1" "$COMPATIBLE" "$2"
    printf 'bundle-formats=-plain\nstatusfile=/var/lib/rauc/status.raucs\nmountprefix=/run/rauc\n'
    if [ -n "$3" ]; then printf '\n[handlers]\n%s\n' "$3"; fi
    printf '\n[keyring]\npath=/etc/rauc/keyring.pem\n'
    for i in 0 1; do
      if [ "$i" = 0 ]; then slot=A part=a; else slot=B part=b; fi
      printf '\n[slot.rootfs.%s]\ndevice=/dev/disk/by-partlabel/rootfs-%s\ntype=ext4\nbootname=%s\n' "$i" "$part" "$slot"
      if [ "$4" = yes ]; then
        printf '\n[slot.boot.%s]\ndevice=/dev/disk/by-partlabel/boot-%s\ntype=vfat\nparent=rootfs.%s\n' "$i" "$part" "$i"
      fi
    done
  } > "$ROOTDIR/etc/rauc/system.conf"
}

# A/B (both arches): RAUC's keyring (the release certificate), its status on the data
# partition, and the deadline that rolls back a slot never marked good.
install -d -m 0755 "$ROOTDIR/etc/rauc" "$ROOTDIR/var/lib/rauc"
install -m 0644 "$RELEASE_CERT" "$ROOTDIR/etc/rauc/keyring.pem"
systemctl --root="$ROOTDIR" enable streamp2p-boot-deadline.timer >/dev/null \
  || die "cannot enable streamp2p-boot-deadline.timer"
if [ "$ARCH" = amd64 ]; then
  # RAUC's GRUB system, the ESP on /boot/efi (RAUC edits GRUB's environment there); the
  # kernel and initramfs of each slot are at fixed names (GRUB loads them from the slot).
  install -d -m 0755 "$ROOTDIR/boot/efi"
  rauc_system_conf "# RAUC: two root file system slots booted by GRUB (image/efi/grub.cfg)." \
    "$(printf 'bootloader=grub\ngrubenv=/boot/efi/EFI/BOOT/grubenv')" "" no
  printf '# The EFI system partition: GRUB and its environment (A/B state, edited by RAUC).\nPARTLABEL=efi /boot/efi vfat rw,noatime,nosuid,nodev,noexec,umask=0022,nofail 0 0\n' \
    >> "$ROOTDIR/etc/fstab"
  install -m 0644 -D "$REPO/image/test/streamp2p-boot-deadline.conf" \
    "$ROOTDIR/etc/systemd/system/streamp2p-boot-deadline.timer.d/test.conf"
  # The test image reports from inside the guest what image/boot-test.sh checks.
  install -m 0644 -D "$REPO/image/test/streamp2p-syscall-log.conf" \
    "$ROOTDIR/etc/systemd/system/streamp2p.service.d/test-syscall-log.conf"
  install -m 0644 "$REPO/image/test/streamp2p-test-report.service" "$ROOTDIR/etc/systemd/system/"
  install -m 0755 -D "$REPO/image/test/streamp2p-test-report" "$ROOTDIR/usr/local/sbin/streamp2p-test-report"
  systemctl --root="$ROOTDIR" enable streamp2p-test-report.service >/dev/null \
    || die "cannot enable streamp2p-test-report.service"
fi
if [ "$ARCH" = arm64 ]; then
  # RAUC's custom backend for the Pi firmware's A/B (tryboot_a_b in autoboot.txt on the
  # first partition, mounted at /boot/ab); each rootfs slot has its boot partition as a child
  # (firmware, kernel, initramfs, cmdline.txt naming that slot's root).
  install -m 0755 -D "$REPO/board/rpi/streamp2p-tryboot" "$ROOTDIR/usr/lib/streamp2p/streamp2p-tryboot"
  install -d -m 0755 "$ROOTDIR/boot/ab"
  rauc_system_conf "# RAUC: two slots, each a root file system and its own boot partition, chosen by the Pi
# firmware's tryboot_a_b (autoboot.txt on partition 1, edited by the custom backend)." \
    bootloader=custom bootloader-custom-backend=/usr/lib/streamp2p/streamp2p-tryboot yes
  printf '# The first partition: autoboot.txt (A/B of the Pi firmware), state of the tryboot backend.\nPARTLABEL=autoboot /boot/ab vfat rw,noatime,nosuid,nodev,noexec,umask=0022,nofail 0 0\n' \
    >> "$ROOTDIR/etc/fstab"
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
if [ "$ARCH" = arm64 ]; then
  # Debian's kernel does not pass reboot "0 tryboot" on to the Pi firmware (only the Raspberry
  # Pi kernel's firmware driver does): without streamp2p_tryboot an installed slot would never be
  # tried. udev loads it by the firmware's modalias; image/test/rpi-tryboot-qemu.sh checks it.
  KPKG="$(dpkg-query --admindir="$ROOTDIR/var/lib/dpkg" -W -f='${Version}' "linux-image-$KVER")" \
    || die "cannot tell the version of linux-image-$KVER"
  "$REPO/board/rpi/build-tryboot-module.sh" "$KVER" "$KPKG" "$WORK/tryboot-module" \
    || die "cannot build the tryboot module"
  install -m 0644 -D "$WORK/tryboot-module/streamp2p_tryboot.ko" \
    "$ROOTDIR/lib/modules/$KVER/updates/streamp2p_tryboot.ko"
  depmod -b "$ROOTDIR" "$KVER" || die "depmod failed"
fi
cp "$ROOTDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
cp "$ROOTDIR/boot/initrd.img-$KVER" "$OUT/initrd.img"
# What GRUB loads from a slot (amd64): /vmlinuz and /initrd.img of that slot's root.
ln -sfn "boot/vmlinuz-$KVER" "$ROOTDIR/vmlinuz"
ln -sfn "boot/initrd.img-$KVER" "$ROOTDIR/initrd.img"

# --- Partitions -------------------------------------------------------------------------------
step "assembling the partitions (kernel $KVER)"
# The data partition is the root file system's /var; the root keeps an empty /var to mount on.
mv "$ROOTDIR/var" "$WORK/var"
mkdir -m 0755 "$ROOTDIR/var"
rm -f "$WORK/data.ext4"
mkfs.ext4 -q -L DATA -d "$WORK/var" "$WORK/data.ext4" "${DATA_MB}M" || die "mkfs.ext4 (data) failed"
IMG="$OUT/streamp2p-$ARCH.img"
MIB=2048 # sectors
root_used_mb=$(du -sm "$ROOTDIR" | cut -f1)
root_mb=$(( root_used_mb * 5 / 4 + 64 ))
# Both slots the same size, with room for larger updates.
slot_mb=$(( root_used_mb * 14 / 10 ))
(( slot_mb >= 900 )) || slot_mb=900
(( slot_mb >= root_mb )) || slot_mb=$root_mb
FAT_TYPE=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7   # GPT "Microsoft basic data"
LINUX_TYPE=0FC63DAF-8483-4772-8E79-3D69D8477DE4 # GPT "Linux filesystem"

if [ "$ARCH" = arm64 ]; then
  # Each slot's boot partition, what the Pi firmware reads: firmware blobs, device trees,
  # config.txt, kernel, initramfs and a cmdline.txt naming the slot's root. Slot A's is made
  # here; slot B's and the bundle's are copies of it, B's with its cmdline.txt rewritten by the
  # bundle's hook (board/rpi/bundle-hook.sh, which does the same after RAUC writes a slot).
  BOOTDIR="$WORK/boot"
  mkdir -p "$BOOTDIR"
  cp "$OUT/vmlinuz" "$OUT/initrd.img" "$BOOTDIR/"
  cp -r "$ROOTDIR"/usr/lib/raspi-firmware/. "$BOOTDIR/"
  cp "$ROOTDIR"/usr/lib/linux-image-"$KVER"/broadcom/bcm27*rpi*.dtb "$BOOTDIR/"
  cp "$REPO/board/rpi/config.txt" "$REPO/board/rpi/cmdline.txt" "$BOOTDIR/"
  grep -q 'root=PARTLABEL=rootfs-a .*rauc\.slot=A' "$BOOTDIR/cmdline.txt" \
    || die "board/rpi/cmdline.txt must name slot A (root=PARTLABEL=rootfs-a ... rauc.slot=A)"
  rm -f "$WORK/boot-a.vfat" "$WORK/boot-b.vfat" "$WORK/autoboot.vfat" "$WORK/root.ext4"
  mkfs.vfat -F 32 -n BOOT -C "$WORK/boot-a.vfat" $((BOOT_MB * 1024)) >/dev/null || die "mkfs.vfat (boot-a) failed"
  mcopy -s -i "$WORK/boot-a.vfat" "$BOOTDIR"/* ::/ || die "mcopy into the boot partition failed"
  # boot-b starts as a copy of boot-a with B's cmdline.txt: a valid FAT the firmware can read,
  # never an unformatted partition. Its root (rootfs-b) is empty until the first update, so
  # slot B starts marked bad (bad-B below): RAUC and the backend never choose it.
  cp --sparse=always "$WORK/boot-a.vfat" "$WORK/boot-b.vfat"
  mkdir "$WORK/cmdline-b"
  cp "$BOOTDIR/cmdline.txt" "$WORK/cmdline-b/"
  RAUC_SLOT_NAME=boot.1 RAUC_SLOT_MOUNT_POINT="$WORK/cmdline-b" \
    sh "$REPO/board/rpi/bundle-hook.sh" slot-post-install || die "bundle-hook.sh failed"
  mcopy -o -i "$WORK/boot-b.vfat" "$WORK/cmdline-b/cmdline.txt" ::/cmdline.txt \
    || die "mcopy of boot-b's cmdline.txt failed"
  # Partition 1: autoboot.txt (firmware boots partition 2, tries 3) and the backend's state.
  mkdir "$WORK/ab"
  cp "$REPO/board/rpi/autoboot.txt" "$WORK/ab/autoboot.txt"
  : > "$WORK/ab/bad-B"
  mkfs.vfat -F 16 -n AUTOBOOT -C "$WORK/autoboot.vfat" $((AB_MB * 1024)) >/dev/null || die "mkfs.vfat (autoboot) failed"
  mcopy -i "$WORK/autoboot.vfat" "$WORK/ab"/* ::/ || die "mcopy into the autoboot partition failed"

  # GPT: autoboot, boot-a, boot-b (FAT, Microsoft basic data), rootfs-a, rootfs-b, DATA last
  # (it grows to the end of the disk at first boot). From 4 MiB, in 4 MiB steps (SD erase
  # blocks). The firmware's autoboot.txt names the boot partitions by number: 2 and 3.
  slot_mb=$(( (slot_mb + 3) / 4 * 4 ))
  ab_start=$((4 * MIB)); ab_size=$((AB_MB * MIB))
  boota_start=$((ab_start + ab_size)); boot_size=$((BOOT_MB * MIB))
  bootb_start=$((boota_start + boot_size))
  a_start=$((bootb_start + boot_size)); slot_size=$((slot_mb * MIB))
  b_start=$((a_start + slot_size))
  data_start=$((b_start + slot_size)); data_size=$((DATA_MB * MIB))
  rm -f "$IMG"
  truncate -s $(( (data_start + data_size + MIB) * 512 )) "$IMG"
  sfdisk --quiet "$IMG" <<EOT || die "sfdisk failed"
label: gpt
start=$ab_start, size=$ab_size, type=$FAT_TYPE, name=autoboot
start=$boota_start, size=$boot_size, type=$FAT_TYPE, name=boot-a
start=$bootb_start, size=$boot_size, type=$FAT_TYPE, name=boot-b
start=$a_start, size=$slot_size, type=$LINUX_TYPE, name=rootfs-a
start=$b_start, size=$slot_size, type=$LINUX_TYPE, name=rootfs-b
start=$data_start, size=$data_size, type=$LINUX_TYPE, name=data
EOT
  dd if="$WORK/autoboot.vfat" of="$IMG" bs=512 seek=$ab_start conv=notrunc,sparse status=none
  dd if="$WORK/boot-a.vfat" of="$IMG" bs=512 seek=$boota_start conv=notrunc,sparse status=none
  dd if="$WORK/boot-b.vfat" of="$IMG" bs=512 seek=$bootb_start conv=notrunc,sparse status=none
else
  # amd64, A/B. The EFI system partition: a standalone GRUB whose built-in config loads
  # /EFI/BOOT/grub.cfg (image/efi/), and the environment it shares with RAUC.
  ESPDIR="$WORK/esp"
  mkdir -p "$ESPDIR"
  grub-mkimage -O x86_64-efi -o "$ESPDIR/BOOTX64.EFI" -p /EFI/BOOT -c "$REPO/image/efi/grub-embedded.cfg" \
    part_gpt fat ext2 linux normal loadenv test echo search search_fs_file configfile regexp \
    sleep reboot halt efi_gop all_video ls cat \
    || die "grub-mkimage failed"
  cp "$REPO/image/efi/grub.cfg" "$ESPDIR/grub.cfg"
  # Slot A holds the image, slot B starts empty: B_OK=0 tells GRUB (and RAUC) it is not bootable.
  grub-editenv "$ESPDIR/grubenv" create
  grub-editenv "$ESPDIR/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
  rm -f "$WORK/esp.vfat" "$WORK/root.ext4"
  mkfs.vfat -F 32 -n BOOT -C "$WORK/esp.vfat" $((ESP_MB * 1024)) >/dev/null || die "mkfs.vfat (ESP) failed"
  mmd -i "$WORK/esp.vfat" ::/EFI ::/EFI/BOOT || die "mmd (ESP) failed"
  mcopy -i "$WORK/esp.vfat" "$ESPDIR"/* ::/EFI/BOOT/ || die "mcopy into the ESP failed"

  # GPT: efi, rootfs-a, rootfs-b, DATA last (it grows to the end of the disk at first boot;
  # sfdisk moves the backup GPT header there).
  esp_start=$((1 * MIB)); esp_size=$((ESP_MB * MIB))
  a_start=$((esp_start + esp_size)); slot_size=$((slot_mb * MIB))
  b_start=$((a_start + slot_size))
  data_start=$((b_start + slot_size)); data_size=$((DATA_MB * MIB))
  rm -f "$IMG"
  truncate -s $(( (data_start + data_size + MIB) * 512 )) "$IMG"
  sfdisk --quiet "$IMG" <<EOT || die "sfdisk failed"
label: gpt
start=$esp_start, size=$esp_size, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=efi
start=$a_start, size=$slot_size, type=$LINUX_TYPE, name=rootfs-a
start=$b_start, size=$slot_size, type=$LINUX_TYPE, name=rootfs-b
start=$data_start, size=$data_size, type=$LINUX_TYPE, name=data
EOT
  dd if="$WORK/esp.vfat" of="$IMG" bs=512 seek=$esp_start conv=notrunc,sparse status=none
fi

# The root file system twice from the same tree: the image's (slot A, IMAGE_VERSION) and the
# update bundle's (BUNDLE_VERSION). Neither is found by its label or UUID: the slot's boot
# configuration names its partition by GPT name (root=PARTLABEL=rootfs-a|b).
mkfs.ext4 -q -L rootfs -d "$ROOTDIR" "$WORK/root.ext4" "${root_mb}M" || die "mkfs.ext4 (root) failed"
echo "$BUNDLE_VERSION" > "$ROOTDIR/usr/share/streamp2p/image-version"
ROOTFS_B="$OUT/rootfs-$BUNDLE_VERSION.ext4"
rm -f "$OUT"/rootfs-*.ext4
mkfs.ext4 -q -L rootfs -d "$ROOTDIR" "$ROOTFS_B" "${root_mb}M" || die "mkfs.ext4 (bundle root) failed"
dd if="$WORK/root.ext4" of="$IMG" bs=512 seek=$a_start conv=notrunc,sparse status=none
dd if="$WORK/data.ext4" of="$IMG" bs=512 seek=$data_start conv=notrunc,sparse status=none
step "image: $IMG ($(du -h --apparent-size "$IMG" | cut -f1), $(du -h "$IMG" | cut -f1) used), slots ${slot_mb} MiB, kernel $KVER"

# --- Update bundle ----------------------------------------------------------------------------
step "RAUC bundle $BUNDLE_VERSION (verity) and its signed manifest"
BUNDLE="$OUT/streamp2p-$ARCH-$BUNDLE_VERSION.raucb"
# zstd at a low level: about as small as mksquashfs's default gzip (277 against 275 MB here)
# and 2 s instead of 96 s; the kernel reads it (CONFIG_SQUASHFS_ZSTD).
export SQUASHFS_ARGS="-comp zstd -Xcompression-level 3"
BDIR="$WORK/bundle"
mkdir -p "$BDIR"
ln "$ROOTFS_B" "$BDIR/rootfs.ext4" 2>/dev/null || cp --sparse=always "$ROOTFS_B" "$BDIR/rootfs.ext4"
cat > "$BDIR/manifest.raucm" <<EOF
[update]
compatible=$COMPATIBLE
version=$BUNDLE_VERSION

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF
if [ "$ARCH" = arm64 ]; then
  # The slot's boot partition (slot A's, as on the card); written to boot-a or boot-b, then
  # the hook points its cmdline.txt at that slot's root.
  mv "$WORK/boot-a.vfat" "$BDIR/boot.vfat"
  install -m 0755 "$REPO/board/rpi/bundle-hook.sh" "$BDIR/hook.sh"
  cat >> "$BDIR/manifest.raucm" <<EOF

[image.boot]
filename=boot.vfat
hooks=post-install

[hooks]
filename=hook.sh
EOF
fi
rm -f "$BUNDLE"
rauc bundle --cert="$RELEASE_CERT" --key="$RELEASE_KEY" --keyring="$RELEASE_CERT" \
  --mksquashfs-args="$SQUASHFS_ARGS" "$BDIR" "$BUNDLE" >/dev/null \
  || die "rauc bundle failed"
"$REPO/image/sign-manifest.sh" "$BUNDLE_VERSION" "$BUNDLE" \
  "Test update $BUNDLE_VERSION: the same system as image $IMAGE_VERSION, with a new version number." \
  || die "cannot sign the update manifest"
rm -rf "$WORK"
step "done: $IMG, $BUNDLE ($(du -h "$BUNDLE" | cut -f1)), kernel $KVER"
