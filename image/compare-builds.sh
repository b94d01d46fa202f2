#!/usr/bin/env bash
# Reproducibility check: build the image twice, independently, and compare.
#
#   image/compare-builds.sh [--keep]
#
# Runs image/build.sh into out-a/work-a and then out-b/work-b (beside this script, both
# gitignored), with nothing shared between the two (each downloads its own packages and
# wheels), then compares the root filesystem digests (sha256 of the per-file manifest), the
# squashfs and the ISO. When they differ, the differing manifest lines (path, mode, owner,
# size and sha256 of each entry) are listed. Exit 0 when rootfs and ISO are identical.
# The work trees are removed afterwards unless --keep.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
keep=0
[ "${1:-}" = --keep ] && keep=1

# Both from one commit, whatever lands in the checkout meanwhile.
commit="$(git -C "$here/.." rev-parse HEAD)"
echo "== commit $commit" >&2
for side in a b; do
    rm -rf "$here/out-$side" "$here/work-$side"
    echo "== build $side" >&2
    start="$(date +%s)"
    "$here/build.sh" --commit "$commit" --out "$here/out-$side" --work "$here/work-$side" \
        >"$here/build-$side.log" 2>&1 \
        || { tail -30 "$here/build-$side.log" >&2; exit 1; }
    echo "   $(($(date +%s) - start)) s, log $here/build-$side.log" >&2
done

same=1
compare() { # WHAT A B
    if [ "$2" = "$3" ]; then
        echo "identical $1: $2"
    else
        echo "DIFFERENT $1: $2 vs $3"
        same=0
    fi
}
digest() { sha256sum "$1" | cut -d' ' -f1; }
compare "rootfs digest" "$(cut -d' ' -f1 "$here/out-a/rootfs.sha256")" "$(cut -d' ' -f1 "$here/out-b/rootfs.sha256")"
compare "package list" "$(digest "$here/out-a/packages.txt")" "$(digest "$here/out-b/packages.txt")"
compare "squashfs" "$(digest "$here/work-a/iso/live/filesystem.squashfs")" "$(digest "$here/work-b/iso/live/filesystem.squashfs")"
compare "initrd" "$(digest "$here/work-a/iso/live/initrd.img")" "$(digest "$here/work-b/iso/live/initrd.img")"
compare "ISO" "$(cut -d' ' -f1 "$here/out-a/SHA256SUMS")" "$(cut -d' ' -f1 "$here/out-b/SHA256SUMS")"
if ! cmp -s "$here/out-a/rootfs-manifest.txt" "$here/out-b/rootfs-manifest.txt"; then
    echo "differing root filesystem entries (- build a, + build b):"
    diff "$here/out-a/rootfs-manifest.txt" "$here/out-b/rootfs-manifest.txt" | grep '^[<>]' \
        | sed 's/^</-/; s/^>/+/' | head -100
fi
[ "$keep" -eq 1 ] || rm -rf "$here/work-a" "$here/work-b"
[ "$same" -eq 1 ] && echo "REPRODUCIBLE" || echo "NOT REPRODUCIBLE"
[ "$same" -eq 1 ]
