#!/usr/bin/env bash
# Valgrind memcheck of the compiled codec twin: run the codec tests
# (tests/test_codec_*.py, compiled twin only) under memcheck and fail on any
# memory error (invalid read/write, use of uninitialised values, bad free)
# and on any leak that is "definitely lost".
#
# CPython is run with PYTHONMALLOC=malloc so that every Python allocation goes
# through malloc, where memcheck sees it; the suppression file
# scripts/valgrind-python.supp silences what CPython itself leaves behind at
# exit. Hypothesis runs few examples here (the "default" profile): memcheck
# makes Python 20-50 times slower.
#
# Usage: scripts/valgrind.sh [extra pytest arguments]
# Environment: PYTHON (default .venv/bin/python), VALGRIND (default valgrind).
# Needs: valgrind (Debian package valgrind) and the compiled twin built in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-$root/.venv/bin/python}"
VALGRIND="${VALGRIND:-valgrind}"
start=$SECONDS

if ! command -v "$VALGRIND" >/dev/null 2>&1; then
    echo "[valgrind] valgrind is not installed (Debian: apt-get install valgrind)" >&2
    exit 2
fi
FASTWS_REQUIRE_EXTENSIONS=1 "$PY" -c "import fastws._codec" || {
    echo "[valgrind] the compiled twin does not import: build it first" >&2
    exit 2
}

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export PYTHONMALLOC=malloc
export FASTWS_REQUIRE_EXTENSIONS=1
export HYPOTHESIS_PROFILE=default
unset FASTWS_NO_EXTENSIONS || true

rc=0
"$VALGRIND" --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --track-origins=yes --num-callers=30 \
    --suppressions="$root/scripts/valgrind-python.supp" \
    --log-file="$log" \
    "$PY" -m pytest -q -p no:cacheprovider -m c_extension \
    tests/test_codec_contract.py tests/test_codec_frames.py tests/test_codec_header.py \
    tests/test_codec_keys.py tests/test_codec_mask.py tests/test_codec_utf8.py "$@" || rc=$?

summary="$(grep -E "ERROR SUMMARY|definitely lost" "$log" | tail -n 2 || true)"
echo "[valgrind] $summary"
if [ "$rc" -eq 99 ]; then
    echo "[valgrind] memcheck found errors:"
    grep -v "^==[0-9]*== *$" "$log" | head -n 200
    exit 1
elif [ "$rc" -ne 0 ]; then
    echo "[valgrind] pytest exited with $rc"
    tail -n 30 "$log"
    exit 1
fi
echo "[valgrind] no memory error, nothing definitely lost ($((SECONDS - start)) s)"
