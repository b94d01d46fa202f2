#!/usr/bin/env bash
# Boot smoke test: boot the appliance ISO in qemu and talk to custody's console shell.
#
#   image/boot-test.sh IMAGE.iso [--timeout SECONDS] [--no-home] [--no-rehearse] [--log FILE]
#
# qemu runs in software emulation (-accel tcg: no KVM here), without a display and without
# any network device, with the serial port on this script's pipes. A 64 MiB ext4 disk
# labelled CUSTODY-HOME is attached as the persistent home (--no-home leaves it off). Then:
#   1. wait for custody's prompt `custody> ` on the serial console (the boot time);
#   2. type `status`: the home must be the persistent medium (or, with --no-home, the shell
#      must warn that it is in RAM), the only network interface `lo`, no swap, core dumps
#      piped to /bin/false, USBGuard active, `custody selfcheck` passed;
#   3. type `media list`: the USB stick (an ext4 image labelled SHARDS on an emulated xHCI
#      bus, beside a USB keyboard) must be listed, so USBGuard let it through;
#   4. type `rehearse` and wait for `rehearsal passed` (--no-rehearse skips it);
#   5. type `poweroff` and wait for qemu to exit.
# The whole serial log is kept (--log FILE, default a temporary file that is printed on
# failure). Exit 0 when every step passed. qemu is killed and temporary files are removed
# on any exit.
set -euo pipefail

image=""
timeout=900
with_home=1
rehearse=1
log=""
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) timeout="$2"; shift 2 ;;
        --no-home) with_home=0; shift ;;
        --no-rehearse) rehearse=0; shift ;;
        --log) log="$2"; shift 2 ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        -*) echo "boot-test.sh: unknown option $1" >&2; exit 2 ;;
        *) image="$1"; shift ;;
    esac
done
[ -f "$image" ] || { echo "usage: boot-test.sh IMAGE.iso [options]" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || {
    echo "boot-test.sh: installing qemu-system-x86" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends qemu-system-x86 >&2
}

tmp="$(mktemp -d)"
[ -n "$log" ] || log="$tmp/serial.log"
: >"$log"
qemu_pid=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    exec 3>&- 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

start="$(date +%s.%N)"
seconds() { awk -v now="$(date +%s.%N)" -v start="$start" 'BEGIN { printf "%.1f", now - start }'; }
say() { printf '[boot-test %6s s] %s\n' "$(seconds)" "$*" >&2; }
fail() {
    say "FAILED: $*"
    echo "---- last 60 lines of the serial console ($log) ----" >&2
    tail -n 60 "$log" | tr -d '\r' >&2
    [ "$log" != "$tmp/serial.log" ] || cp "$log" "/tmp/custody-boot-test-failed.log"
    exit 1
}

# Wait until TEXT (within one line) appears in the serial output after the previous match;
# the next wait starts right after it (the next prompt may have arrived in the same read).
seen=0
wait_for() {
    local text="$1" limit="$2" deadline at
    deadline=$(($(date +%s) + limit))
    while true; do
        at="$(tail -c +"$((seen + 1))" "$log" | grep -a -b -o -F -- "$text" | head -n 1 | cut -d: -f1 || true)"
        if [ -n "$at" ]; then
            seen=$((seen + at + ${#text}))
            return 0
        fi
        kill -0 "$qemu_pid" 2>/dev/null || fail "qemu exited while waiting for '$text'"
        [ "$(date +%s)" -lt "$deadline" ] || fail "no '$text' within $limit s"
        sleep 1
    done
}
type_line() { printf '%s\r' "$1" >&3; }

# A USB bus (USBGuard needs one; every real machine has one) with a keyboard, which the
# policy must allow, and a USB stick labelled SHARDS, which `media list` must show.
truncate -s 16M "$tmp/stick.img"
mkfs.ext4 -q -L SHARDS "$tmp/stick.img"
devices=(-device qemu-xhci -device usb-kbd
    -drive "if=none,id=stick,file=$tmp/stick.img,format=raw" -device "usb-storage,drive=stick")
if [ "$with_home" -eq 1 ]; then
    truncate -s 64M "$tmp/home.img"
    mkfs.ext4 -q -L CUSTODY-HOME "$tmp/home.img"
    devices+=(-drive "file=$tmp/home.img,format=raw,if=virtio")
fi

mkfifo "$tmp/console-in"
# -nic none: not even an emulated network card. -no-reboot: a reboot ends the test.
qemu-system-x86_64 -accel tcg -smp 2 -m 2048 -display none -monitor none -nic none \
    -no-reboot -serial stdio -cdrom "$image" -boot d "${devices[@]}" \
    <"$tmp/console-in" >"$log" 2>&1 &
qemu_pid=$!
exec 3>"$tmp/console-in"
say "qemu (tcg) booting $(basename "$image"), serial log $log"

wait_for 'Booting `custody appliance' 120
say "GRUB started the kernel"
wait_for 'root (automatic login)' "$timeout"
say "console logged in"
wait_for 'custody> ' "$timeout"
boot_seconds="$(seconds)"
say "custody prompt after $boot_seconds s (the shell waits for the system to finish starting)"

type_line status
wait_for 'custody> ' 120
status_text="$(tr -d '\r' <"$log" | sed -n '/custody> status/,$p')"
if [ "$with_home" -eq 1 ]; then
    grep -q 'label CUSTODY-HOME' <<<"$status_text" || fail "the home is not on CUSTODY-HOME"
else
    grep -q 'the home is in RAM' <<<"$status_text" || fail "no warning about a home in RAM"
fi
grep -q 'network interfaces: lo $' <<<"$status_text" || fail "network interfaces besides lo"
grep -q 'swap: 0 device(s); core dumps: |/bin/false' <<<"$status_text" || fail "swap or cores"
grep -q 'usbguard: active' <<<"$status_text" || fail "usbguard is not active"
grep -q 'self-check: passed' <<<"$status_text" || fail "custody selfcheck did not pass"
say "status ok: $(grep -o 'custody [0-9][^ ]*' <<<"$status_text" | head -1), home, lo only, no swap, no cores, usbguard, self-check"

type_line 'media list'
wait_for 'custody> ' 120
media_text="$(tr -d '\r' <"$log" | sed -n '/custody> media list/,$p')"
grep -q "label 'SHARDS'" <<<"$media_text" || fail "media list does not show the USB stick"
say "media list: $(grep "label 'SHARDS'" <<<"$media_text" | head -1)"

if [ "$rehearse" -eq 1 ]; then
    type_line rehearse
    t0="$(seconds)"
    wait_for 'rehearsal passed' 600
    say "rehearsal passed in the guest ($(awk -v a="$(seconds)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s)"
    wait_for 'custody> ' 60
fi

type_line poweroff
deadline=$(($(date +%s) + 180))
while kill -0 "$qemu_pid" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "no power-off within 180 s"
    sleep 1
done
wait "$qemu_pid" || true
qemu_pid=""
say "powered off; boot to prompt $boot_seconds s, whole test $(seconds) s"
if grep -q 'FAILED' <(tr -d '\r' <"$log"); then
    say "note: units failed during boot:"
    tr -d '\r' <"$log" | grep 'FAILED' >&2
fi
echo "BOOT-TEST PASSED boot_to_prompt_seconds=$boot_seconds"
