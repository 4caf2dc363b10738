#!/usr/bin/env bash
# Run the whole test suite twice, once per codec twin:
#   pass 1: FASTWS_REQUIRE_EXTENSIONS=1  the compiled twin, or an import error
#   pass 2: FASTWS_NO_EXTENSIONS=1       the pure-Python twin only
# Every layer above the codec binds the twin at import time, so only two
# processes test both. Extra arguments go to both pytest runs, e.g.
#   bash scripts/test.sh -x -k mask
# Sets up .venv first (scripts/setup.sh) when it is missing, and rebuilds
# the compiled twins in place when their sources are newer than the build.
#
# Exit status: 0 when both passes ran tests and none failed; 1 otherwise
# (pytest's "no tests collected", exit code 5, counts as a failure).
# The last line is the total over both passes: "tests: N passed, N failed, N skipped".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${FASTWS_PYTHON:-.venv/bin/python}"
if [ -z "${FASTWS_PYTHON:-}" ] && { [ ! -x "$PY" ] || ! "$PY" -c "import fastws, pytest" >/dev/null 2>&1; }; then
    echo "[test] no usable .venv: running scripts/setup.sh first"
    bash scripts/setup.sh
fi

# A compiled twin built before its sources last changed tests old code: for
# this interpreter, rebuild the twins in place when a .pyx, .pxd or SIMD
# source, or the .py of a compiled layer (one with a .pxd beside it), is
# newer than one of them, or when a layer is missing beside a built codec
# (a checkout without any build is left alone: pass 1 then says so).
suffix="$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
sources=(src/fastws/*.pyx src/fastws/_simd/*)
targets=(src/fastws/*.pyx)
while IFS= read -r pxd; do
    sources+=("$pxd")
    if [ -e "${pxd%.pxd}.py" ]; then
        sources+=("${pxd%.pxd}.py")
        targets+=("${pxd%.pxd}.py")
    fi
done < <(find src/fastws -name '*.pxd')
rebuild=""
if [ -e "src/fastws/_codec$suffix" ]; then
    for target in "${targets[@]}"; do
        so="${target%.*}$suffix"
        if [ ! -e "$so" ]; then
            rebuild="$so is missing"
            break
        fi
        for source in "${sources[@]}"; do
            if [ "$source" -nt "$so" ]; then
                rebuild="$so is older than $source"
                break 2
            fi
        done
    done
fi
if [ -n "$rebuild" ]; then
    echo "[test] $rebuild: rebuilding the compiled twins for $("$PY" -c 'import sys; print(sys.version.split()[0])')"
    log="$(mktemp)"
    if ! FASTWS_BUILD_EXTENSION=yes "$PY" setup.py -q build_ext --inplace >"$log" 2>&1; then
        cat "$log"
        echo "[test] the rebuild failed"
        exit 1
    fi
    rm -rf build "$log"
fi

reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT

status=0
run_pass() {
    local name="$1" var="$2"
    shift 2
    printf '\n===== test pass: %s (%s=1) =====\n' "$name" "$var"
    local rc=0
    env -u FASTWS_NO_EXTENSIONS -u FASTWS_REQUIRE_EXTENSIONS "$var=1" \
        "$PY" -m pytest --junitxml="$reports/$name.xml" "$@" || rc=$?
    case "$rc" in
        0) ;;
        5) echo "[test] pass '$name': pytest collected no tests; that is a failure here"
           status=1 ;;
        *) echo "[test] pass '$name': pytest exited with $rc"
           status=1 ;;
    esac
}

run_pass cython FASTWS_REQUIRE_EXTENSIONS "$@"
# The pure pass drops the compiled twin's own tests (--no-c-extensions): they
# ran in the first pass, and this pass stands for a machine without it.
run_pass python FASTWS_NO_EXTENSIONS --no-c-extensions "$@"

"$PY" - "$reports" "$status" <<'PY'
import pathlib
import sys
import xml.etree.ElementTree as ET

folder, status = pathlib.Path(sys.argv[1]), int(sys.argv[2])
passed = failed = skipped = 0
for name in ("cython", "python"):
    path = folder / f"{name}.xml"
    if not path.exists():
        print(f"[test] pass '{name}': no report (pytest did not finish)")
        failed += 1
        continue
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    p = f = s = 0
    for suite in suites:
        tests, fail, err, skip = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        p, f, s = p + tests - fail - err - skip, f + fail + err, s + skip
    print(f"[test] pass '{name}': {p} passed, {f} failed, {s} skipped")
    passed, failed, skipped = passed + p, failed + f, skipped + s
if passed == 0:
    status = 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
raise SystemExit(1 if status or failed else 0)
PY
