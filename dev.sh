#!/usr/bin/env bash
# custody's one entry point for people and CI on Debian.
#   ./dev.sh rehearse [--out DIR]   set everything up, then run the full rehearsal ceremony
#   ./dev.sh test [PYTEST ARGS]     set everything up, then run ruff, mypy and the whole test suite
#   ./dev.sh setup                  only set everything up
# Setting up installs the Debian packages custody uses (with sudo when not root), creates
# .venv beside this script and installs custody into it with its development tools.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# Debian packages custody's commands and tests run.
APT_PACKAGES=(gnupg fonts-dejavu-core util-linux cups cups-client printer-driver-cups-pdf)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_debian_packages() {
    local missing=() pkg
    # Python needs venv and ensurepip; Debian splits them into python3-venv.
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3-venv python3-pip)
    fi
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "dev.sh: installing Debian packages: ${missing[*]}" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
}

ensure_venv() {
    local stamp=.venv/.custody-installed want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0 # already installed from this very pyproject.toml
    fi
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' >&2 2>/dev/null \
        || .venv/bin/python -m pip install --disable-pip-version-check -e '.[dev]' >&2
    echo "$want" >"$stamp"
}

setup() {
    ensure_debian_packages
    ensure_venv
}

run_tests() {
    export PATH="$here/.venv/bin:$PATH"
    echo "== ruff" && ruff check . && ruff format --check .
    echo "== mypy" && mypy
    echo "== pytest" && pytest "$@"
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
    setup) setup ;;
    rehearse) setup && exec .venv/bin/custody rehearse "$@" ;;
    test) setup && run_tests "$@" ;;
    *) echo "usage: ./dev.sh rehearse [--out DIR] | test [PYTEST ARGS] | setup" >&2; exit 2 ;;
esac
