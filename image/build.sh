#!/usr/bin/env bash
# Build custody's appliance image: a Debian bookworm root filesystem with custody installed
# from its wheel, made offline-by-construction, then a bootable hybrid ISO (BIOS and UEFI,
# CD or USB stick) whose system is a read-only squashfs.
#
#   image/build.sh [--out DIR] [--work DIR] [--commit REV | --worktree] [--update-lock]
#
#   --out DIR      where the publishable results go (default image/out): the ISO, its
#                  SHA256SUMS, the root filesystem's digest and per-file manifest, the package
#                  list with versions, the venv's wheel list and software manifest,
#                  build-info.txt
#   --work DIR     scratch space (default image/work); the root filesystem stays in
#                  DIR/rootfs for image/check-rootfs.sh
#   --commit REV   build custody from this commit (default HEAD); SOURCE_DATE_EPOCH is its
#                  commit time
#   --worktree     build custody from the working tree instead of the committed HEAD
#                  (for trying uncommitted changes; the result is then not reproducible)
#   --update-lock  rewrite image/packages.lock from this build's package list
#
# Needs root (mmdebstrap --mode=root, chroot, mknod), Debian's archive and PyPI. Installs the
# Debian build tools it needs when they are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$here/out"
work="$here/work"
from_worktree=0
update_lock=0
rev=HEAD

while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --commit) rev="$2"; shift 2 ;;
        --worktree) from_worktree=1; shift ;;
        --update-lock) update_lock=1; shift ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "build.sh: run as root (mmdebstrap --mode=root, chroot)" >&2; exit 2; }
mkdir -p "$out" "$work"
out="$(cd "$out" && pwd)"
work="$(cd "$work" && pwd)"

# The suite and the archive. snapshot.debian.org would pin the whole archive to a date, but it
# is not reachable from the build machines: image/packages.lock records the exact versions
# instead, build.sh asks apt for those versions (an apt preferences pin), and any drift
# (a point release or a security update replaced a version) is written to packages-drift.txt.
SUITE=bookworm
MIRRORS=(
    "deb http://deb.debian.org/debian bookworm main"
    "deb http://deb.debian.org/debian bookworm-updates main"
    "deb http://deb.debian.org/debian-security bookworm-security main"
)
# What the appliance runs, beyond Debian's minbase. Recommends are not installed (they would
# bring avahi and cups-browsed: network discovery).
PACKAGES=(
    linux-image-amd64 live-boot systemd-sysv udev kmod e2fsprogs    # boot, devices, the home
    python3 python3-venv                                             # custody's venv
    gnupg scdaemon pcscd                                             # OpenPGP and smartcards
    cups printer-driver-gutenprint printer-driver-hpcups             # direct-attached printers
    poppler-utils zbar-tools fonts-dejavu-core                       # paper: PDF, QR, fonts
    usbguard                                                         # USB device policy
)
HOST_TOOLS=(mmdebstrap xorriso grub-common grub-pc-bin grub-efi-amd64-bin mtools
    squashfs-tools python3-venv git)

log() { printf '[build %s] %s\n' "$(date +%T)" "$*" >&2; }

ensure_host_tools() {
    local missing=() pkg
    for pkg in "${HOST_TOOLS[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing build tools: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >&2
    fi
}

# pip with only the options given here: no pip.conf, no PIP_* variables from the host.
pip_clean() {
    env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
        PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 "$work/toolenv/bin/pip" "$@"
}

# A venv of pinned build tools: the custody wheel's bytes depend on setuptools' version.
ensure_toolenv() {
    local stamp="$work/toolenv/.lock-sha256" want
    want="$(sha256sum "$here/build-tools.lock" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    rm -rf "$work/toolenv"
    /usr/bin/python3 -m venv "$work/toolenv"
    pip_clean install -q --require-hashes --only-binary=:all: -r "$here/build-tools.lock"
    echo "$want" >"$stamp"
}

# custody's wheel, from the commit (git archive: exactly what is committed, nothing else in
# the checkout leaks in) or, with --worktree, from the working tree.
build_custody_wheel() {
    local src="$work/src"
    rm -rf "$src" "$work/wheels"/custody-*.whl
    mkdir -p "$src" "$work/wheels"
    if [ "$from_worktree" -eq 1 ]; then
        (cd "$repo" && tar -c --exclude=.venv --exclude=.git --exclude=image/out \
            --exclude=image/work --exclude=build --exclude='*.egg-info' .) | tar -x -C "$src"
    else
        git -C "$repo" archive --format=tar "$COMMIT" | tar -x -C "$src"
    fi
    pip_clean wheel -q --no-deps --no-build-isolation -w "$work/wheels" "$src"
    rm -rf "$src"
}

# The runtime wheels, by hash; kept in work/wheels so a rebuild downloads nothing.
download_wheels() {
    pip_clean download -q --no-deps --only-binary=:all: --require-hashes \
        -r "$here/wheels.lock" -d "$work/wheels"
    local wheel
    wheel="$(echo "$work"/wheels/custody-*.whl)"
    # What the image's pip installs: the locked wheels plus custody itself, all by hash.
    grep -v '^#' "$here/wheels.lock" >"$work/wheels/install.lock"
    printf 'custody==%s --hash=sha256:%s\n' "$CUSTODY_VERSION" \
        "$(sha256sum "$wheel" | cut -d' ' -f1)" >>"$work/wheels/install.lock"
}

# apt preferences asking for exactly the locked versions; a version the archive no longer has
# matches nothing and apt takes the current one (reported as drift below).
write_apt_pins() {
    if [ ! -f "$here/packages.lock" ]; then : >"$work/custody-lock.pref"; return 0; fi
    awk '!/^#/ && NF == 2 { printf "Package: %s\nPin: version %s\nPin-Priority: 1001\n\n", $1, $2 }' \
        "$here/packages.lock" >"$work/custody-lock.pref"
}

make_rootfs() {
    local rootfs="$work/rootfs"
    rm -rf "$rootfs"
    local include
    include="$(IFS=,; echo "${PACKAGES[*]}")"
    # Paths left out of every package: manuals, docs (but not the copyright files) and
    # translations; nobody reads them on the appliance. force-unsafe-io: dpkg skips its fsync
    # per file (a failed build's tree is thrown away anyway), which halves the time here.
    # shellcheck disable=SC2016  # "$1" in a hook is mmdebstrap's, expanded by its shell
    IMAGE_DIR="$here" WHEEL_DIR="$work/wheels" \
        mmdebstrap --mode=root --variant=minbase --format=directory \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='force-unsafe-io' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --setup-hook='mkdir -p "$1/etc/apt/preferences.d"' \
        --setup-hook="copy-in $work/custody-lock.pref /etc/apt/preferences.d/" \
        --include="$include" \
        --customize-hook="$here/customize.sh" \
        "$SUITE" "$rootfs" "${MIRRORS[@]}" >&2
    # Files created during the build carry the build's time: clamp every mtime to the commit's
    # (files from packages are older and keep theirs, so Debian's timestamp-checked .pyc stay
    # valid).
    find "$rootfs" -xdev -newermt "@$SOURCE_DATE_EPOCH" -print0 \
        | xargs -0r touch -h --no-create -d "@$SOURCE_DATE_EPOCH"
}

publish_rootfs_facts() {
    local rootfs="$work/rootfs"
    "$work/toolenv/bin/python" "$here/rootfs-manifest.py" "$rootfs" >"$out/rootfs-manifest.txt"
    ROOTFS_DIGEST="$(sha256sum "$out/rootfs-manifest.txt" | cut -d' ' -f1)"
    echo "$ROOTFS_DIGEST  rootfs-manifest.txt" >"$out/rootfs.sha256"
    # shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
    chroot "$rootfs" dpkg-query -W -f='${Package}\t${Version}\n' | LC_ALL=C sort >"$out/packages.txt"
    chroot "$rootfs" /opt/custody/bin/python -c \
        'import importlib.metadata as m; print("\n".join(sorted(f"{d.name}=={d.version}" for d in m.distributions())))' \
        >"$out/wheels.txt"
    # What custody prints on checkpoints as its software digest (docs/spec/software-manifest.md
    # §4), published so witnesses can compare; and the manifest it checks itself against.
    # No bytecode written: the root filesystem's digest is already taken.
    SOFTWARE_DIGEST="$(chroot "$rootfs" /usr/bin/env PYTHONDONTWRITEBYTECODE=1 /opt/custody/bin/python \
        -c 'from custody.software import software_digest; print(software_digest())')"
    cp "$rootfs/usr/lib/custody/software-manifest.json" "$out/software-manifest.json"
    if [ "$update_lock" -eq 1 ]; then
        {
            echo "# Debian packages of the appliance's root filesystem, exact versions (amd64)."
            echo "# Written by image/build.sh --update-lock; image/build.sh asks apt for these."
            cat "$out/packages.txt"
        } >"$here/packages.lock"
    fi
    # Drift: lines only in the lock (-) or only in this build (+).
    local lock="$here/packages.lock"
    [ -f "$lock" ] || lock=/dev/null
    diff <(grep -v '^#' "$lock") "$out/packages.txt" \
        | grep '^[<>]' | sed 's/^</-/; s/^>/+/' >"$out/packages-drift.txt" || true
}

make_iso() {
    local rootfs="$work/rootfs" iso="$work/iso" kver
    rm -rf "$iso"
    mkdir -p "$iso/live" "$iso/boot/grub"
    kver="$(ls "$rootfs/lib/modules")"
    cp "$rootfs/boot/vmlinuz-$kver" "$iso/live/vmlinuz"
    cp "$rootfs/boot/initrd.img-$kver" "$iso/live/initrd.img"
    cp "$here/grub.cfg" "$iso/boot/grub/grub.cfg"
    # The system: read-only by construction. /boot is on the ISO itself, not needed inside.
    # squashfs-tools 4.5 writes reproducibly; the filesystem's time is the commit's, files keep
    # their (clamped) times: given SOURCE_DATE_EPOCH, mksquashfs would stamp every file with
    # it and Debian's timestamp-checked .pyc files would look stale, so it does not see it.
    # zstd level 9: ~30 s here for ~230 MB (level 15 saves 6% for 8 times the time).
    env -u SOURCE_DATE_EPOCH mksquashfs "$rootfs" "$iso/live/filesystem.squashfs" \
        -noappend -quiet -no-progress -comp zstd -Xcompression-level 9 \
        -mkfs-time "$SOURCE_DATE_EPOCH" \
        -wildcards -e 'boot/*' >&2
    # grub-mkrescue: BIOS (El Torito + MBR hybrid) and UEFI (a FAT image) boot. For the same
    # bytes every time: xorriso's volume dates, UUID and GPT GUID and every file's date come
    # from SOURCE_DATE_EPOCH (grub-mkrescue's own copies of GRUB's files are new each run),
    # and mformat, which makes the FAT image, gets a fixed volume serial number instead of a
    # random one (through a wrapper first on PATH: grub-mkrescue has no option for it).
    local uuid bin="$work/bin"
    uuid="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S00)"
    mkdir -p "$bin"
    printf '#!/bin/sh\nexec /usr/bin/mformat -N %08X "$@"\n' "$SOURCE_DATE_EPOCH" >"$bin/mformat"
    chmod +x "$bin/mformat"
    rm -f "$out"/custody-appliance-*.iso   # one image per output folder: no stale ones
    PATH="$bin:$PATH" grub-mkrescue --output="$out/$ISO_NAME" "$iso" -- -volid CUSTODY \
        -volume_date c "=$SOURCE_DATE_EPOCH" -volume_date m "=$SOURCE_DATE_EPOCH" \
        -volume_date uuid "$uuid" -volume_date all_file_dates "=$SOURCE_DATE_EPOCH" \
        -boot_image any gpt_disk_guid=volume_date_uuid >"$work/grub-mkrescue.log" 2>&1 \
        || { cat "$work/grub-mkrescue.log" >&2; exit 1; }
    (cd "$out" && sha256sum "$ISO_NAME" >SHA256SUMS)
}

main() {
    local t0 t1 t2
    t0="$(date +%s)"
    ensure_host_tools
    COMMIT="$(git -C "$repo" rev-parse --verify "$rev^{commit}")"
    SOURCE_DATE_EPOCH="$(git -C "$repo" log -1 --format=%ct "$COMMIT")"
    export SOURCE_DATE_EPOCH
    local commit="$COMMIT" dirty=""
    if [ "$from_worktree" -eq 1 ] && [ -n "$(git -C "$repo" status --porcelain -- custody pyproject.toml)" ]; then
        dirty="+worktree"
    fi
    CUSTODY_VERSION="$(git -C "$repo" show "$COMMIT:custody/__init__.py" \
        | sed -n 's/^__version__ = "\(.*\)"/\1/p')"
    ISO_NAME="custody-appliance-$CUSTODY_VERSION-${commit:0:12}$dirty.iso"
    export CUSTODY_IMAGE_RELEASE="custody $CUSTODY_VERSION, image of commit $commit$dirty, $SUITE, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"

    log "custody $CUSTODY_VERSION from ${commit:0:12}$dirty, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
    ensure_toolenv
    build_custody_wheel
    download_wheels
    write_apt_pins
    log "root filesystem (mmdebstrap $SUITE)"
    make_rootfs
    t1="$(date +%s)"
    publish_rootfs_facts
    log "root filesystem digest $ROOTFS_DIGEST ($((t1 - t0)) s)"
    log "ISO"
    make_iso
    t2="$(date +%s)"

    local rootfs_mb iso_bytes drift
    rootfs_mb="$(du -sx --block-size=1M "$work/rootfs" | cut -f1)"
    iso_bytes="$(stat -c %s "$out/$ISO_NAME")"
    drift="$(wc -l <"$out/packages-drift.txt")"
    cat >"$out/build-info.txt" <<EOF
release: $CUSTODY_IMAGE_RELEASE
iso: $ISO_NAME
iso sha256: $(cut -d' ' -f1 "$out/SHA256SUMS")
iso bytes: $iso_bytes
rootfs digest (sha256 of rootfs-manifest.txt): $ROOTFS_DIGEST
rootfs size: ${rootfs_mb} MiB ($(wc -l <"$out/rootfs-manifest.txt") entries)
packages: $(wc -l <"$out/packages.txt") (lines differing from packages.lock: $drift)
software digest (custody selfcheck, checkpoints): $SOFTWARE_DIGEST
build seconds: rootfs $((t1 - t0)), total $((t2 - t0))
EOF
    cat "$out/build-info.txt" >&2
    [ "$drift" -eq 0 ] || log "note: package versions differ from packages.lock, see $out/packages-drift.txt"
    log "done: $out/$ISO_NAME; root filesystem at $work/rootfs"
}

main
