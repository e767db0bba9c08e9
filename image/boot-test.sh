#!/usr/bin/env bash
# Boots the x86-64 test image (image/build.sh amd64) under qemu with software emulation and
# checks it as an operator would meet it:
#   1. power on: /api/health answers through a forwarded port, /live.ogg carries Opus audio
#      (ffprobe), and a FAT "USB stick" plugged into the emulated xHCI controller while the node
#      runs (QMP device_add) is mounted by the udev rule and seeded (it appears in /api/library);
#      pulled out, its file leaves the library; plugged in again, it returns without rehashing;
#      Inside the guest (image/test/, test image only) a report on the serial console shows no
#      restart of the node (no watchdog kill), the stick mounted ro,nosuid,nodev,noexec, and no
#      system call outside the unit's filter (the test image logs them instead of refusing);
#   2. power cut: qemu is killed with SIGKILL, then booted again on the same disk, this time
#      with the stick in from power-on (found by udev's coldplug): the node
#      comes back with its state (the stick's file is in the library again with its infohash,
#      and nothing was hashed again but the recording cut short, so the sled index on the data
#      partition survived).
# Prints the times from power-on to /api/health and to audio, and the node's idle memory and
# CPU; exits non-zero on any failure.
#
# Environment: OUT=DIR (default image/out/amd64), BOOT_TIMEOUT=seconds (default 600),
# KEEP=1 keeps the scratch disk and consoles in $OUT/boot-test.
set -euo pipefail

die() { echo "image/boot-test.sh: FAIL: $*" >&2; exit 1; }
log() { echo "image/boot-test.sh: $*" >&2; }

REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$REPO/image/out/amd64}"
BOOT_TIMEOUT="${BOOT_TIMEOUT:-600}"
IMG="$OUT/streamp2p-amd64.img"
[ -f "$IMG" ] || die "$IMG missing: build the test image first (image/build.sh amd64)"
# The image boots as a PC would: UEFI firmware (OVMF), GRUB from the EFI system partition,
# GRUB picks slot A or B (image/efi/grub.cfg).
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd

# --- Host tools -------------------------------------------------------------------------------
have_cmd() { command -v "$1" >/dev/null 2>&1; }
need=()
have_cmd qemu-system-x86_64 || need+=(qemu-system-x86)
have_cmd ffprobe || need+=(ffmpeg)
have_cmd curl || need+=(curl)
have_cmd mkfs.vfat || need+=(dosfstools)
have_cmd mcopy || need+=(mtools)
[ -f "$OVMF_CODE" ] && [ -f "$OVMF_VARS" ] || need+=(ovmf)
if ((${#need[@]})); then
  extra=()
  if [[ " ${need[*]} " == *" qemu-system-x86 "* ]]; then
    # A backported qemu-utils Breaks the distribution's qemu-system-common: install the
    # qemu-utils of the same version as qemu-system-x86 with it.
    want="$(apt-cache policy qemu-system-x86 | awk '/Candidate:/{print $2}')"
    have="$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)"
    if [ -n "$have" ] && [ -n "$want" ] && [ "$have" != "$want" ]; then
      extra=(--allow-downgrades "qemu-utils=$want")
    fi
  fi
  log "installing ${need[*]} ${extra[*]}"
  apt-get update || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" "${extra[@]}" \
    || die "cannot install ${need[*]}"
fi

# --- Scratch disk and USB stick ---------------------------------------------------------------
T="$OUT/boot-test"
rm -rf "$T"
mkdir -p "$T"
QEMU_PID=
cleanup() {
  if [ -n "$QEMU_PID" ]; then kill -9 "$QEMU_PID" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$T"; fi
}
trap cleanup EXIT
cp --sparse=always "$IMG" "$T/disk.img"
# A card larger than the image: the data partition must grow into the rest at first boot.
truncate -s +1G "$T/disk.img"
# A 20 s Opus file on a FAT stick labelled STICK: the udev rule mounts it at /media/streamp2p/STICK.
ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=20" -c:a libopus "$T/episode.opus" \
  || die "ffmpeg cannot make the stick's episode"
mkfs.vfat -n STICK -C "$T/stick.img" 32768 >/dev/null || die "mkfs.vfat (stick) failed"
mcopy -i "$T/stick.img" "$T/episode.opus" ::/episode.opus || die "mcopy (stick) failed"
# The firmware's variables (boot entries) are the machine's: a writable copy, kept across boots.
cp "$OVMF_VARS" "$T/ovmf-vars.fd"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

# KVM is not used: nested KVM aborts or hangs here (image/README.md); TCG works everywhere.
# The stick is a block node that outlives its USB device, so it can be plugged and pulled
# through QMP while the guest runs; `boot CONSOLE plugged` boots with it in.
boot() {
  local console="$1" stick=()
  [ "${2:-}" != plugged ] || stick=(-device usb-storage,drive=stick,id=stick0)
  rm -f "$T/qmp.sock"
  qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp 2 -m 1024 \
    -drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" \
    -drive "if=pflash,format=raw,file=$T/ovmf-vars.fd" \
    -drive "file=$T/disk.img,format=raw,if=virtio" \
    -blockdev "driver=file,filename=$T/stick.img,node-name=stickfile,read-only=on" \
    -blockdev "driver=raw,file=stickfile,node-name=stick,read-only=on" \
    -device qemu-xhci,id=xhci "${stick[@]}" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:80" -device virtio-net-pci,netdev=n0 \
    -qmp "unix:$T/qmp.sock,server=on,wait=off" \
    -display none -monitor none -serial "file:$console" -no-reboot &
  QEMU_PID=$!
  BOOTED_AT=$SECONDS
}

# One QMP command (JSON) to the running qemu; fails with qemu's error.
qmp() {
  python3 - "$T/qmp.sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
def cmd(c):
    f.write(json.dumps(c) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
cmd({"execute": "qmp_capabilities"})
r = cmd(json.loads(sys.argv[2]))
if "error" in r:
    sys.exit("qmp: %s" % r["error"])
PY
}
plug() { qmp '{"execute": "device_add", "arguments": {"driver": "usb-storage", "drive": "stick", "id": "stick0", "bus": "xhci.0"}}'; }
pull() { qmp '{"execute": "device_del", "arguments": {"id": "stick0"}}'; }

# Polls until `check` succeeds; prints the seconds since power-on.
wait_for() {
  local what="$1" console="$2"; shift 2
  while ! "$@" 2>/dev/null; do
    kill -0 "$QEMU_PID" 2>/dev/null || { tail -40 "$console" >&2; die "qemu exited before $what"; }
    if (( SECONDS - BOOTED_AT > BOOT_TIMEOUT )); then
      tail -40 "$console" >&2
      die "no $what within ${BOOT_TIMEOUT}s of power-on"
    fi
    sleep 1
  done
  echo $((SECONDS - BOOTED_AT))
}

health_ok() { curl -sf -m 5 "$BASE/api/health" | python3 -c 'import json,sys; assert json.load(sys.stdin)["status"] == "ok"'; }
# Two seconds of the live stream, then ffprobe must find an Opus audio stream in it.
on_air() {
  curl -s -m 3 -o "$T/live.ogg" "$BASE/live.ogg" || true
  [ -s "$T/live.ogg" ] && [ "$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$T/live.ogg")" = opus ]
}
library_json() { curl -sf -m 5 "$BASE/api/library"; }
stick_seeded() { library_json | python3 -c 'import json,sys; assert any(i["name"] == "episode.opus" for i in json.load(sys.stdin))'; }
stick_gone() { library_json | python3 -c 'import json,sys; assert all(i["name"] != "episode.opus" for i in json.load(sys.stdin))'; }
hashed_since_start() { curl -sf -m 5 "$BASE/api/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["library"]["hashed_since_start"])'; }

# --- 1. Power on ------------------------------------------------------------------------------
log "booting the test image (qemu TCG, forwarded to $BASE)"
boot "$T/console-1.log"
t_health=$(wait_for "/api/health" "$T/console-1.log" health_ok)
log "power-on to /api/health: ${t_health}s"
t_air=$(wait_for "Opus on /live.ogg" "$T/console-1.log" on_air)
log "power-on to audio on /live.ogg: ${t_air}s"
# Hot-plug while the node runs: the mount must reach the node's own mount namespace.
plug || die "cannot plug the USB stick in"
plugged_at=$SECONDS
wait_for "the USB stick's episode in /api/library" "$T/console-1.log" stick_seeded >/dev/null
t_stick=$((SECONDS - plugged_at))
log "stick plugged in to its file seeded: ${t_stick}s"
infohash_1="$(library_json | python3 -c 'import json,sys; print([i["infohash"] for i in json.load(sys.stdin) if i["name"] == "episode.opus"][0])')"
hashed_1="$(hashed_since_start)"
[ "$hashed_1" -ge 1 ] || die "the stick's episode was listed without being hashed"
pull || die "cannot pull the USB stick out"
wait_for "the stick's episode to leave /api/library once pulled" "$T/console-1.log" stick_gone >/dev/null
plug || die "cannot plug the USB stick in again"
wait_for "the stick's episode back in /api/library" "$T/console-1.log" stick_seeded >/dev/null
[ "$(hashed_since_start)" = "$hashed_1" ] || die "the stick's file was hashed again when it came back"
log "stick pulled and plugged in again: its file left the library and came back, not hashed again"
# Idle figures of the node (on air with no listener, library hashed): resident memory, and
# CPU over 30 s from the process metrics. Under TCG the CPU share is far above a real CPU's.
metric() { curl -sf -m 5 "$BASE/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
sleep 10
cpu_a="$(metric process_cpu_seconds_total)"
sleep 30
cpu_b="$(metric process_cpu_seconds_total)"
rss="$(metric process_resident_memory_bytes)"
[ -n "$cpu_a" ] && [ -n "$cpu_b" ] && [ -n "$rss" ] || die "/metrics has no process figures"
idle="$(awk -v a="$cpu_a" -v b="$cpu_b" -v r="$rss" 'BEGIN {printf "RSS %.1f MiB, CPU %.1f %% of one core (TCG)", r / 1048576, (b - a) / 30 * 100}')"
log "node idle: $idle"

# From inside the guest (image/test/streamp2p-test-report, a minute after the node started):
# no restart (so no watchdog kill), the stick mounted as the udev rule says, no system call
# outside the filter.
report_done() { grep -aq 'streamp2p-test-report: end' "$T/console-1.log"; }
wait_for "the in-guest report" "$T/console-1.log" report_done >/dev/null
report="$(grep -a 'streamp2p-test-report: ' "$T/console-1.log" | sed 's/^.*streamp2p-test-report: //; s/\r$//')"
echo "$report" | sed 's/^/  guest: /' >&2
echo "$report" | grep -qx 'active=active' || die "streamp2p.service not active in the guest"
echo "$report" | grep -qx 'restarts=0' || die "streamp2p.service was restarted (watchdog or crash)"
opts="$(echo "$report" | sed -n 's/^stick-options=//p')"
for o in ro nosuid nodev noexec; do
  [[ ",$opts," == *",$o,"* ]] || die "USB stick mounted without $o: '$opts'"
done
if echo "$report" | grep -q '^seccomp: '; then
  die "the node made system calls outside its SystemCallFilter (see above)"
fi
var_mib="$(echo "$report" | sed -n 's/^var-mib=//p')"
[ -n "$var_mib" ] && [ "$var_mib" -gt 1300 ] \
  || die "/var did not grow into the larger disk: ${var_mib:-?} MiB"
exposure="$(echo "$report" | sed -n 's/^exposure=.*level for streamp2p.service: //p')"
log "in the guest: no restart, stick mounted $opts, no filtered system call, /var grown to $var_mib MiB, exposure $exposure"

items_1="$(curl -sf -m 5 "$BASE/api/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["library"]["items"])')"

# --- 2. Power cut -----------------------------------------------------------------------------
log "power cut (SIGKILL to qemu), then booting again"
kill -9 "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=
boot "$T/console-2.log" plugged
t_health2=$(wait_for "/api/health after the power cut" "$T/console-2.log" health_ok)
t_air2=$(wait_for "Opus on /live.ogg after the power cut" "$T/console-2.log" on_air)
wait_for "the stick's episode after the power cut" "$T/console-2.log" stick_seeded >/dev/null
infohash_2="$(library_json | python3 -c 'import json,sys; print([i["infohash"] for i in json.load(sys.stdin) if i["name"] == "episode.opus"][0])')"
[ "$infohash_1" = "$infohash_2" ] || die "infohash changed across the power cut: $infohash_1 -> $infohash_2"
# The show on air when the power went is kept: its .part is finished and hashed at the next
# start (src/live/recorder.rs). So the files hashed after the cut must be exactly the new
# items: one more would be an old file hashed again, an index lost.
# Items and hashed files from one /api/health answer with no hashing under way.
settled() {
  curl -sf -m 5 "$BASE/api/health" | python3 -c '
import json, sys
lib = json.load(sys.stdin)["library"]
h = lib["hashing"]
assert h["files_done"] == h["files_total"]
print(lib["items"], lib["hashed_since_start"])' > "$T/settled"
}
wait_for "the library to settle after the power cut" "$T/console-2.log" settled >/dev/null
read -r items_2 hashed < "$T/settled"
new_items=$(( items_2 - items_1 ))
[ "$hashed" = "$new_items" ] \
  || die "after the power cut the node hashed $hashed file(s) for $new_items new item(s): its index was lost"
log "after the power cut: /api/health ${t_health2}s, audio ${t_air2}s, library kept" \
  "(nothing hashed again; $new_items recovered recording(s))"

kill -9 "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=
echo "boot-test: PASS health=${t_health}s audio=${t_air}s stick-plugged-to-seeded=${t_stick}s after-power-cut: health=${t_health2}s audio=${t_air2}s; idle: $idle"
