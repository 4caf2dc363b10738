#!/usr/bin/env bash
# Build the compiled codec twin with AddressSanitizer and UndefinedBehaviorSanitizer
# (setup.py: FASTWS_SANITIZE=1 -> -fsanitize=address,undefined -fno-sanitize-recover=undefined)
# in a build folder of its own (the tree's extension is left alone), then run
#   1. the whole test suite against it (the compiled pass: FASTWS_REQUIRE_EXTENSIONS=1),
#   2. the fuzzing smoke run (fuzzing/run.sh --smoke),
# with the ASan runtime preloaded into CPython. Any sanitizer report fails the run:
# ASan aborts on the first error, UBSan halts on the first error, and every report
# is also written to a log file whose existence fails the script.
#
# Usage: scripts/sanitize.sh [extra pytest arguments]
# Environment:
#   PYTHON                 interpreter with fastws' test dependencies (default: .venv/bin/python)
#   FASTWS_SANITIZE_DIR    build folder (default: a new temporary folder, removed afterwards)
#   FASTWS_SANITIZE_FUZZ=0 skip the fuzzing smoke run (e.g. when atheris is not installed)
# Needs: gcc (or CC=clang) with its sanitizer runtimes (Debian: gcc brings libasan and libubsan).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-$root/.venv/bin/python}"
CC="${CC:-gcc}"
start=$SECONDS

build="${FASTWS_SANITIZE_DIR:-}"
if [ -z "$build" ]; then
    build="$(mktemp -d)"
    trap 'rm -rf "$build"' EXIT
fi
mkdir -p "$build/reports"
rm -f "$build/reports/"*

say() { printf '[sanitize] %s\n' "$*"; }

# -- 1. the sanitized build, from a copy of the sources ---------------------------------
say "building fastws._codec with -fsanitize=address,undefined in $build"
rm -rf "$build/src"
mkdir -p "$build/src"
cp setup.py pyproject.toml README.md LICENSE "$build/"
# The package without compiled or generated files: the build makes its own.
tar -C src --exclude='*.so' --exclude='*.pyd' --exclude='_codec.c' --exclude='__pycache__' -cf - fastws \
    | tar -C "$build/src" -xf -
(cd "$build" && CC="$CC" FASTWS_SANITIZE=1 FASTWS_BUILD_EXTENSION=yes "$PY" setup.py -q build_ext --inplace) \
    >"$build/build.log" 2>&1 || { tail -n 40 "$build/build.log"; say "build failed"; exit 1; }

asan_lib="$("$CC" -print-file-name=libasan.so)"
if [ ! -e "$asan_lib" ]; then
    say "no ASan runtime found by $CC -print-file-name=libasan.so"
    exit 1
fi

# CPython's own allocations are not freed at exit (leak detection off);
# Python's small-object allocator is bypassed so that ASan sees every
# buffer; errors abort at once, with a stack trace, into report files.
export LD_PRELOAD="$asan_lib"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:log_path=$build/reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$build/reports/ubsan"
export PYTHONMALLOC=malloc
export PYTHONPATH="$build/src${PYTHONPATH:+:$PYTHONPATH}"
export FASTWS_REQUIRE_EXTENSIONS=1
unset FASTWS_NO_EXTENSIONS || true

where="$("$PY" -c 'import fastws._codec as c; print(c.__file__)')"
case "$where" in
    "$build"/*) say "sanitized twin: $where" ;;
    *) say "the sanitized build is not the one imported: $where"; exit 1 ;;
esac

status=0
check_reports() {  # check_reports STEP
    if compgen -G "$build/reports/*" >/dev/null; then
        say "$1: sanitizer reports:"
        for report in "$build/reports/"*; do
            echo "---- $report"
            head -n 60 "$report"
        done
        status=1
    fi
}

# -- 2. the whole test suite, compiled pass ---------------------------------------------------
# test_packaging builds sdists and wheels with the compiler: under the preloaded
# runtime that tests gcc, not fastws; it runs in the normal CI job.
say "pytest (whole suite, compiled twin, sanitized)"
rc=0
"$PY" -m pytest -q -p no:cacheprovider --ignore=tests/test_packaging.py "$@" || rc=$?
if [ "$rc" -ne 0 ]; then
    say "pytest exited with $rc"
    status=1
fi
check_reports "tests"

# -- 3. the fuzzing smoke run --------------------------------------------------------------------
if [ "${FASTWS_SANITIZE_FUZZ:-1}" != "0" ]; then
    say "fuzzing/run.sh --smoke (sanitized)"
    rc=0
    PYTHON="$PY" FASTWS_FUZZ_WORK="$build/fuzz" bash fuzzing/run.sh --smoke || rc=$?
    if [ "$rc" -ne 0 ]; then
        say "fuzz smoke exited with $rc"
        status=1
    fi
    check_reports "fuzz smoke"
fi

if [ "$status" -eq 0 ]; then
    say "no sanitizer report ($((SECONDS - start)) s)"
else
    say "FAILED ($((SECONDS - start)) s)"
fi
exit "$status"
