#!/usr/bin/env bash
# Check a built appliance root filesystem: offline by construction, no swap, no core dumps,
# tmpfs scratch space, the console, and custody itself running inside it.
#
#   image/check-rootfs.sh ROOTFS        (as root; ROOTFS is image/work/rootfs after a build)
#
# Prints one line per check, `ok   NAME: detail` or `FAIL NAME: detail`, and exits 1 if any
# failed. The custody checks run custody in a chroot: /proc (a fresh procfs) and /dev (a bind
# mount) are mounted, with tmpfs on /tmp and /run/custody, and always unmounted again, in
# reverse order, whatever happens; nothing is written to ROOTFS itself.
set -euo pipefail

root="${1:-}"
if [ -z "$root" ] || [ ! -x "$root/opt/custody/bin/custody" ]; then
    echo "usage: check-rootfs.sh ROOTFS (a root filesystem built by image/build.sh)" >&2
    exit 2
fi
root="$(cd "$root" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "check-rootfs.sh: run as root (chroot, mount)" >&2; exit 2; }

failures=0
ok() { printf 'ok   %s: %s\n' "$1" "$2"; }
bad() { printf 'FAIL %s: %s\n' "$1" "$2"; failures=$((failures + 1)); }
check() { # NAME DETAIL COMMAND...: ok when COMMAND succeeds
    local name="$1" detail="$2"
    shift 2
    if "$@"; then ok "$name" "$detail"; else bad "$name" "$detail"; fi
}
installed() { # the installed packages whose names match an extended regex
    # shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
    chroot "$root" dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null \
        | awk '$1 == "ii" { print $2 }' | grep -E "^($1)\$" || true
}
masked() { [ "$(readlink "$root/etc/systemd/system/$1")" = /dev/null ]; }
no_uncommented() { ! grep -Eq "$1" "$2"; }

# --- network ------------------------------------------------------------------------------
net_pkgs="$(installed 'network-manager.*|isc-dhcp-.*|dhcpcd.*|udhcpc|pump|ifupdown.*|connman.*|wpasupplicant|iwd|openssh-.*|dropbear.*|tinysshd|avahi-.*|cups-browsed|bluez.*|systemd-resolved|systemd-timesyncd|ntp.*|chrony|iproute2|ppp|modemmanager')"
check no-network-packages "no network manager, DHCP, SSH, radio or discovery packages${net_pkgs:+: found $net_pkgs}" \
    test -z "$net_pkgs"
ifaces=""
if [ -f "$root/etc/network/interfaces" ]; then
    ifaces="$(grep -Eh '^[[:space:]]*(auto|allow-[a-z]+|iface)[[:space:]]' "$root"/etc/network/interfaces \
        "$root"/etc/network/interfaces.d/* 2>/dev/null | awk '{print $2}' | grep -vx lo || true)"
fi
# systemd's own examples in /usr/lib/systemd/network stay inert: networkd is masked (below).
networkd_files="$(find "$root/etc/systemd/network" -name '*.network' 2>/dev/null || true)"
check only-loopback "no interface configured but lo (ifupdown, networkd)${ifaces:+: $ifaces}${networkd_files:+: $networkd_files}" \
    test -z "$ifaces$networkd_files"
networkd_masked() { masked systemd-networkd.service && masked systemd-networkd.socket; }
check networkd-masked "systemd-networkd and its socket masked" networkd_masked
kver="$(ls "$root/lib/modules")"
net_modules="$(find "$root/lib/modules/$kver/kernel/drivers/net" "$root/lib/modules/$kver/kernel/net/wireless" \
    "$root/lib/modules/$kver/kernel/net/bluetooth" "$root/lib/modules/$kver/kernel/drivers/bluetooth" \
    -name '*.ko*' 2>/dev/null | wc -l || true)"
check network-modules-absent "no network, wireless or Bluetooth kernel modules in the image ($net_modules found)" \
    test "$net_modules" -eq 0
blacklist="$root/etc/modprobe.d/custody-offline.conf"
missing=""
for module in e1000 e1000e r8169 igb virtio_net iwlwifi ath9k cfg80211 mac80211 bluetooth btusb \
    usbnet cdc_ether rndis_host cdc_ncm ax88179_178a r8152 firewire_net; do
    grep -qx "install $module /bin/false" "$blacklist" 2>/dev/null || missing+=" $module"
done
refused="$(grep -c '^install .* /bin/false$' "$blacklist" 2>/dev/null || true)"
check modprobe-blacklist "${refused:-0} modules refused by modprobe.d, among them NICs, Wi-Fi, Bluetooth, USB networking${missing:+; missing:$missing}" \
    test -z "$missing"
firmware="$(installed 'firmware-.*|atmel-firmware|bluez-firmware')$(find "$root/lib/firmware" -type f 2>/dev/null | head -3 || true)"
check no-firmware "no wireless (or any) firmware${firmware:+: $firmware}" test -z "$firmware"
check no-ssh "no SSH server, client, keys or config" test ! -e "$root/etc/ssh"

# --- swap, hibernation, tmpfs ------------------------------------------------------------------
fstab="$root/etc/fstab"
no_swap() {
    no_uncommented '^[^#]*[[:space:]]swap[[:space:]]' "$fstab" && masked swap.target \
        && [ "$(readlink "$root/etc/systemd/system-generators/systemd-gpt-auto-generator")" = /dev/null ]
}
check no-swap "no swap in fstab; swap.target and the GPT auto-generator masked" no_swap
no_hibernation() {
    masked hibernate.target && masked hybrid-sleep.target \
        && grep -qx 'AllowHibernation=no' "$root/etc/systemd/sleep.conf.d/90-custody.conf" \
        && grep -qx 'RESUME=none' "$root/etc/initramfs-tools/conf.d/custody"
}
check no-hibernation "hibernate targets masked, sleep.conf forbids hibernation, initramfs RESUME=none" no_hibernation
# Exactly "tmpfs /tmp ": live-boot appends a second /tmp line otherwise, and systemd's fstab
# generator then fails on the duplicate.
check tmpfs-tmp "/tmp is a tmpfs (fstab)" grep -q '^tmpfs /tmp tmpfs ' "$fstab"
check tmpfs-run-custody "/run/custody (custody's media mounts) is a tmpfs (fstab)" \
    grep -Eq '^tmpfs[[:space:]]+/run/custody[[:space:]]+tmpfs[[:space:]]' "$fstab"
check home-fstab "the CUSTODY-HOME medium mounts at /var/lib/custody, nofail" \
    grep -Eq '^LABEL=CUSTODY-HOME[[:space:]]+/var/lib/custody[[:space:]]+ext4[[:space:]]+[^[:space:]]*nofail' "$fstab"

# --- core dumps ------------------------------------------------------------------------------
core_sysctl() {
    grep -qx 'kernel.core_pattern = |/bin/false' "$root/etc/sysctl.d/90-custody.conf" \
        && grep -qx 'fs.suid_dumpable = 0' "$root/etc/sysctl.d/90-custody.conf"
}
check core-sysctl "kernel.core_pattern=|/bin/false, fs.suid_dumpable=0" core_sysctl
check ptrace-scope "kernel.yama.ptrace_scope=3: no process may ptrace another" \
    grep -qx 'kernel.yama.ptrace_scope = 3' "$root/etc/sysctl.d/90-custody.conf"
check core-limits "limits.conf: hard core 0 for everyone" \
    grep -Eq '^\*[[:space:]]+hard[[:space:]]+core[[:space:]]+0$' "$root/etc/security/limits.d/90-custody-nocore.conf"
core_systemd() {
    grep -qx 'Storage=none' "$root/etc/systemd/coredump.conf.d/90-custody.conf" \
        && grep -qx 'DefaultLimitCORE=0' "$root/etc/systemd/system.conf.d/90-custody.conf"
}
check core-systemd "systemd: coredump Storage=none, DefaultLimitCORE=0" core_systemd

# --- devices -------------------------------------------------------------------------------
automount="$(installed 'udisks2|autofs|usbmount|gvfs.*|udiskie|pmount')"
check no-automount "no automounter (custody mounts media itself)${automount:+: $automount}" test -z "$automount"
usbguard_on() {
    [ -n "$(installed usbguard)" ] \
        && compgen -G "$root/etc/systemd/system/*.wants/usbguard.service" >/dev/null \
        && grep -qx 'ImplicitPolicyTarget=block' "$root/etc/usbguard/usbguard-daemon.conf" \
        && grep -qx 'PresentDevicePolicy=apply-policy' "$root/etc/usbguard/usbguard-daemon.conf" \
        && grep -qxF 'reject with-interface all-of { 08:*:* 03:*:* }' "$root/etc/usbguard/rules.conf"
}
check usbguard "USBGuard installed, enabled, blocks what no rule allows, rejects storage+HID composites" usbguard_on

# --- console -------------------------------------------------------------------------------
autologin() {
    grep -q -- '--autologin root' "$root/etc/systemd/system/getty@tty1.service.d/custody-autologin.conf" \
        && grep -q -- '--autologin root' "$root/etc/systemd/system/serial-getty@ttyS0.service.d/custody-autologin.conf"
}
check console-autologin "autologin on tty1 and ttyS0" autologin
console_shell() {
    [ "$(grep '^root:' "$root/etc/passwd" | cut -d: -f7)" = /usr/local/bin/custody-shell ] \
        && grep -q '^root:!' "$root/etc/shadow"
}
check console-shell "root's login shell is custody-shell, root's password locked" console_shell
check machine-id "/etc/machine-id is empty (made at boot, not shared by every image)" \
    test ! -s "$root/etc/machine-id"

# --- tools ---------------------------------------------------------------------------------
tools_missing=""
for package in gnupg scdaemon pcscd cups printer-driver-gutenprint poppler-utils zbar-tools \
    fonts-dejavu-core usbguard python3; do
    [ -n "$(installed "$package")" ] || tools_missing+=" $package"
done
check packages "gnupg, scdaemon, pcscd, cups, a printer driver, poppler-utils, zbar-tools, fonts${tools_missing:+; missing:$tools_missing}" \
    test -z "$tools_missing"

# --- software and printing -----------------------------------------------------------------
manifest="$root/usr/lib/custody/software-manifest.json"
software_manifest() { [ -s "$manifest" ] && grep -q '"format": "custody-software-manifest/1"' "$manifest"; }
check software-manifest "/usr/lib/custody/software-manifest.json, the hashes custody's self-check compares the venv with" \
    software_manifest
cupsd_conf="$root/etc/cups/cupsd.conf"
cups_hardened() {
    local line
    for line in 'PreserveJobFiles No' 'PreserveJobHistory No' 'ErrorPolicy stop-printer' \
        'Listen /run/cups/cups.sock' 'Browsing No' 'WebInterface No' 'DefaultAuthType Basic'; do
        grep -qx "$line" "$cupsd_conf" || return 1
    done
    # The socket is the only way in: no TCP port, no other Listen line.
    [ "$(grep -Eic '^[[:space:]]*(Listen|Port|SSLListen|SSLPort)[[:space:]]' "$cupsd_conf")" -eq 1 ]
}
check cups-hardened "cupsd.conf: the local socket only, no web interface, no job files or history kept, a failing printer stops" \
    cups_hardened

# --- inside the chroot ---------------------------------------------------------------------
mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[$i]}" || umount -l "${mounted[$i]}" || true
    done
    mounted=()
}
trap unmount_all EXIT
mount_in() { # TARGET MOUNT-ARGS...: mount, and remember it for unmount_all
    local target="$root$1"
    shift
    if mountpoint -q "$target"; then
        echo "check-rootfs.sh: $target is already a mount point: is the root filesystem in use?" >&2
        exit 2
    fi
    mount "$@" "$target"
    mounted+=("$target")
}
mount_in /proc -t proc proc
mount_in /dev --bind /dev
mount_in /tmp -t tmpfs -o mode=1777,size=256m tmpfs
mkdir -p "$root/run/custody"
mount_in /run/custody -t tmpfs -o mode=0700,size=64m tmpfs

run_in() {
    chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LC_ALL=C.UTF-8 HOME=/tmp PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp \
        CUSTODY_HOME=/tmp/custody-home CUSTODY_MEDIA_ROOT=/run/custody/media "$@"
}
version="$(run_in custody --version 2>&1 || true)"
check custody-version "custody --version in the chroot: ${version:-nothing}" \
    grep -Eq '^custody [0-9]' <<<"$version"
rehearsal="$(run_in custody rehearse 2>&1 || true)"
check custody-rehearse "custody rehearse in the chroot: $(grep -c '^  ok ' <<<"$rehearsal") steps ok" \
    grep -q '^rehearsal passed' <<<"$rehearsal"
[ "$failures" -eq 0 ] || grep -q '^rehearsal passed' <<<"$rehearsal" || printf '%s\n' "$rehearsal" | tail -5 >&2
# Only the software line counts here: the other checks describe the build host (its swap,
# its /proc), not the image.
selfcheck="$(run_in custody selfcheck 2>/dev/null || true)"
software_line="$(grep -E '^(ok|FAIL|warn) +software: ' <<<"$selfcheck" | head -3 || true)"
check custody-software "custody selfcheck in the chroot: ${software_line:-no software line}" \
    grep -q '^ok   software: ' <<<"$software_line"
gpg_version="$(run_in gpg --version 2>/dev/null | head -1 || true)"
check gpg "$gpg_version" grep -q '^gpg (GnuPG) 2' <<<"$gpg_version"
check scdaemon "scdaemon and pcscd binaries" test -x "$root/usr/lib/gnupg/scdaemon" -a -x "$root/usr/sbin/pcscd"
# cupsd -t only warns about a directive it does not know (and ignores it): none may be left.
cups_ok() {
    local said
    said="$(run_in cupsd -t 2>&1)" && ! grep -qi 'unknown directive' <<<"$said" \
        && grep -qx 'Browsing No' "$root/etc/cups/cupsd.conf"
}
check cups "cupsd accepts its configuration (every directive known), Browsing off" cups_ok
paper_tools() { run_in pdftoppm -v >/dev/null 2>&1 && run_in zbarimg --version >/dev/null 2>&1; }
check paper-tools "pdftoppm, zbarimg" paper_tools
unmount_all
leftover="$(findmnt -rn -o TARGET | grep -F "$root" || true)"
check unmounted "nothing left mounted under the root filesystem${leftover:+: $leftover}" test -z "$leftover"

echo "$failures check(s) failed"
[ "$failures" -eq 0 ]
