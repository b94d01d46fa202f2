#!/usr/bin/env bash
# mmdebstrap customize hook: turns the freshly installed Debian into the custody appliance.
#   customize.sh ROOTFS      (run by image/build.sh; env: IMAGE_DIR, WHEEL_DIR,
#                             SOURCE_DATE_EPOCH, CUSTODY_IMAGE_RELEASE)
# Every step is deterministic: no random names, no host data, times from SOURCE_DATE_EPOCH.
set -euo pipefail

root="$1"
: "${IMAGE_DIR:?}" "${WHEEL_DIR:?}" "${SOURCE_DATE_EPOCH:?}" "${CUSTODY_IMAGE_RELEASE:?}"

# Commands inside the new system, with a clean environment (nothing from the build host).
in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
        SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" PYTHONDONTWRITEBYTECODE=1 "$@"
}
say() { printf '[customize] %s\n' "$*" >&2; }

say "configuration files (image/overlay)"
# Git keeps no owners and only the x bit: files become root's, modes are set below.
cp -r --no-preserve=mode,ownership "$IMAGE_DIR/overlay/." "$root/"
chmod 0755 "$root/usr/local/bin/custody-shell"
chmod 0600 "$root/etc/usbguard/rules.conf"
printf '%s\n' "$CUSTODY_IMAGE_RELEASE" >"$root/etc/custody-image-release"
# From the build host (mmdebstrap copies them for debootstrap compatibility) or the build.
rm -f "$root/etc/resolv.conf" "$root/etc/apt/preferences.d/custody-lock.pref"

say "custody: a venv in /opt/custody from the wheels, offline and by hash"
mkdir -p "$root/tmp/custody-wheels"
cp "$WHEEL_DIR"/*.whl "$WHEEL_DIR/install.lock" "$root/tmp/custody-wheels/"
in_root python3 -m venv --without-pip /opt/custody
# pip runs from Debian's own pip wheel, so the venv gets custody and its dependencies only.
pip_wheel="$(cd "$root" && echo usr/share/python-wheels/pip-*.whl)"
in_root /opt/custody/bin/python "/$pip_wheel/pip" install --quiet --no-index --no-cache-dir \
    --disable-pip-version-check --no-compile --require-hashes \
    --find-links /tmp/custody-wheels -r /tmp/custody-wheels/install.lock
rm -rf "$root/tmp/custody-wheels"
# Bytecode compiled now, stamped with the source's hash instead of its mtime: the same bytes
# every build, and valid on the read-only system.
in_root /opt/custody/bin/python -m compileall -q --invalidation-mode unchecked-hash \
    /opt/custody/lib/python3.11/site-packages >/dev/null
ln -sf /opt/custody/bin/custody "$root/usr/local/bin/custody"
# The software manifest (docs/spec/software-manifest.md): every installed file's sha256, as
# the wheels' RECORD files give it, and the bytecode compiled just above (which Python loads
# unchecked). custody's host self-check compares the installation with it at run time and
# fails closed on any difference; writing it refuses an installation that already differs.
install -d -m 0755 "$root/usr/lib/custody"
in_root /opt/custody/bin/custody selfcheck --write-manifest /usr/lib/custody/software-manifest.json >&2
# Where the CUSTODY-HOME medium is mounted (see /etc/fstab); root's only.
install -d -m 0700 "$root/var/lib/custody"

say "console: root's login shell is custody-shell, autologin on tty1 and ttyS0"
# custody mounts media itself (mount(2) needs root), so the console session is root's; the
# account has no password (locked) and its shell runs only custody commands.
grep -qx /usr/local/bin/custody-shell "$root/etc/shells" \
    || echo /usr/local/bin/custody-shell >>"$root/etc/shells"
in_root usermod --shell /usr/local/bin/custody-shell --lock root
in_root systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1
# The console greets with custody's banner, not Debian's licence text and uname.
: >"$root/etc/motd"
touch "$root/root/.hushlogin"   # no "Last login" line either
rm -f "$root/etc/update-motd.d/10-uname"
printf 'custody appliance \\l\n\n' >"$root/etc/issue"

say "offline: network, swap, hibernation, timers that would reach out"
# Masked, not just disabled: nothing (a preset, a dependency) can start them.
in_root systemctl mask --quiet \
    systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service \
    systemd-firstboot.service \
    swap.target hibernate.target hybrid-sleep.target suspend-then-hibernate.target \
    systemd-hibernate.service systemd-hybrid-sleep.service \
    apt-daily.timer apt-daily-upgrade.timer \
    usbguard-dbus.service
# A console appliance: no graphical target.
in_root systemctl set-default --quiet multi-user.target
# systemd would activate swap partitions it finds on a GPT disk: no generator, no swap.
mkdir -p "$root/etc/systemd/system-generators"
ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-gpt-auto-generator"
# CUPS: overlay/etc/cups/cupsd.conf replaces Debian's: the local socket only, no browsing,
# no web interface, no job files or history kept, a failing printer stops.
# USBGuard: the policy in rules.conf; devices present at boot go through it too, anything no
# rule matches is blocked.
sed -i -e 's/^ImplicitPolicyTarget=.*/ImplicitPolicyTarget=block/' \
    -e 's/^PresentDevicePolicy=.*/PresentDevicePolicy=apply-policy/' \
    -e 's/^InsertedDevicePolicy=.*/InsertedDevicePolicy=apply-policy/' \
    "$root/etc/usbguard/usbguard-daemon.conf"

say "kernel: network, radio and FireWire modules left out, and refused by modprobe"
kver="$(ls "$root/lib/modules")"
moddir="$root/lib/modules/$kver/kernel"
offline_dirs=(drivers/net drivers/bluetooth drivers/nfc drivers/infiniband drivers/atm
    drivers/isdn drivers/staging drivers/firewire drivers/ieee802154
    net/bluetooth net/wireless net/mac80211 net/nfc net/ieee802154 net/mac802154 net/6lowpan)
present=()
for dir in "${offline_dirs[@]}"; do
    [ -d "$moddir/$dir" ] && present+=("$moddir/$dir")
done
{
    echo "# custody appliance: no network. The kernel modules of these trees are not in the"
    echo "# image at all (image/customize.sh deletes them); this list refuses them anyway, should"
    echo "# one be added back: $(IFS=' '; echo "${offline_dirs[*]}")."
    find "${present[@]}" -name '*.ko*' -printf '%f\n' | sed 's/\.ko.*$//; s/-/_/g' \
        | LC_ALL=C sort -u | sed 's|.*|install & /bin/false|'
} >"$root/etc/modprobe.d/custody-offline.conf"
rm -rf "${present[@]}"
in_root depmod -a "$kver"
in_root update-initramfs -u -k "$kver" >/dev/null

say "reproducibility: drop caches, logs and host traces"
# ssl-cert (a dependency of cups-daemon) made a random self-signed key for the build host's
# name; CUPS listens on this machine only and makes its own certificate should it need one.
find "$root/etc/ssl/certs" -lname ssl-cert-snakeoil.pem -delete
rm -f "$root/etc/ssl/certs/ssl-cert-snakeoil.pem" "$root/etc/ssl/private/ssl-cert-snakeoil.key"
: >"$root/etc/machine-id"       # generated at each boot (the system is read-only anyway)
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root/var/cache/fontconfig" "$root/var/cache/ldconfig/aux-cache" \
    "$root/var/cache/debconf"/*-old "$root/var/lib/dpkg"/*-old \
    "$root/etc"/{passwd,group,shadow,gshadow,subuid,subgid}-
find "$root/var/log" -type f -delete
