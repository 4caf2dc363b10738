#!/usr/bin/env bash
# Set up a development environment from a fresh Debian/Ubuntu machine:
#   1. system packages (apt), when run as root (or with sudo);
#   2. a virtual environment in .venv;
#   3. fastws installed in it, editable, with the compiled codec twin required,
#      plus the test and benchmark dependencies.
#
# Environment:
#   PYTHON                  interpreter for the venv (default: python3, >= 3.10)
#   FASTWS_BUILD_EXTENSION  yes (default here: a compile error fails the set-up),
#                           no (pure Python), or empty (try, fall back to pure)
#   FASTWS_EXTRAS           extras to install (default: test,bench,docs)
#   FASTWS_APT_PACKAGES     more Debian packages to install (space-separated)
#   FASTWS_SKIP_APT=1       never call apt-get
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
VENV=".venv"
EXTRAS="${FASTWS_EXTRAS:-test,bench,docs}"
export PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[setup] %s\n' "$*"; }

# -- 1. system packages --------------------------------------------------------
# One list, extended by later steps of the project (a browser for the
# browser-interop tests goes here, or in FASTWS_APT_PACKAGES).
# chromium: the real browser of tests/asyncio/test_chromium.py; redis-server:
# the broker of the pub/sub tests (tests/asyncio/test_pubsub.py), which start
# and stop their own server on a free loopback port; python3-doc: Python's
# objects.inv, which the documentation's build reads instead of the network.
# valgrind: bench/echo_instructions.py counts instructions under callgrind.
APT_PACKAGES=(build-essential ca-certificates chromium redis-server python3-doc valgrind)
# shellcheck disable=SC2206
APT_PACKAGES+=(${FASTWS_APT_PACKAGES:-})

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    APT_PACKAGES+=(python3 python3-venv python3-dev)
else
    # The interpreter's headers and venv/ensurepip: Debian's own python3 splits
    # them into python3-dev and python3-venv; a pyenv or python.org build has them.
    if ! "$PYTHON" - <<'PY' >/dev/null 2>&1
import os, sysconfig
raise SystemExit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
    then
        APT_PACKAGES+=(python3-dev)
    fi
    if ! "$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1; then
        APT_PACKAGES+=(python3-venv)
    fi
fi

apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            say "not root and no password-less sudo: skipping apt-get (wanted: $*)"
            return 0
        fi
    fi
    say "apt-get install: $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "${FASTWS_SKIP_APT:-0}" = "1" ]; then
    say "FASTWS_SKIP_APT=1: skipping apt-get"
elif command -v apt-get >/dev/null 2>&1; then
    apt_install "${APT_PACKAGES[@]}"
else
    say "no apt-get on this machine: install a C compiler and the Python headers yourself"
fi

# -- 2. the virtual environment -----------------------------------------------------
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    raise SystemExit(f"fastws needs Python >= 3.10, {sys.executable} is {sys.version.split()[0]}")
PY
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sys" >/dev/null 2>&1; then
    say "creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip

# -- 3. fastws, editable, with the compiled twin --------------------------------------
# An editable install builds the extension and copies the .so next to the
# sources in src/fastws/, so tests import the compiled twin from the tree.
# After editing _codec.pyx, run this script again (or `python setup.py build_ext --inplace`).
export FASTWS_BUILD_EXTENSION="${FASTWS_BUILD_EXTENSION-yes}"
if [ "$FASTWS_BUILD_EXTENSION" = "yes" ] && [ ! -f src/fastws/_codec.pyx ]; then
    echo "[setup] error: FASTWS_BUILD_EXTENSION=yes but src/fastws/_codec.pyx is missing" >&2
    exit 1
fi
say "pip install -e '.[$EXTRAS]' (FASTWS_BUILD_EXTENSION=${FASTWS_BUILD_EXTENSION:-unset})"
"$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"

"$VENV/bin/python" - <<'PY'
import fastws
print(f"[setup] fastws {fastws.__version__} installed; codec twin in use: {fastws.implementation}")
PY
