#!/usr/bin/env bash
# The peers' own test suites, run with a fastws adapter installed.
#
# For each library, the sdist of the pinned version is downloaded from PyPI
# (pip download --no-binary :all: --no-deps NAME==VER) and unpacked in a
# temporary directory; its tests run with our pytest plugin
# (tests/integrations/peer_suites/fastws_peer_plugin.py), which installs the
# adapter before the suite starts and writes a marker at the end: the suite
# counts only if the adapter was installed and the library called into
# fastws through it (calls > 0).
#
#   wsproto   the full suite (tests/), the sdist's own source; both codec twins
#   aiohttp   tests/test_websocket_*.py and tests/test_web_websocket*.py with its
#             test requirements, against the installed aiohttp of that version:
#             once with aiohttp's compiled reader (fastws pure twin), once with
#             aiohttp's pure reader, AIOHTTP_NO_EXTENSIONS=1 (fastws compiled twin)
#   tornado   tornado.test.websocket_test through tornado.test.runtests, the
#             sdist's own source; both codec twins
#   uvicorn   tests/protocols/test_websocket.py with fastws's WebSocket class
#             (fastws.integrations.uvicorn) in place of uvicorn's: the
#             sdist's tests, tests/integrations/peer_suites/uvicorn_conftest.py
#             as their tests/protocols/conftest.py (it lists the tests it
#             skips, and why), across uvicorn's HTTP classes (httptools, h11,
#             zttp); both codec twins
#
# The versions are the newest of each adapter's declared range (see
# fastws.integrations); override with WSPROTO_VERSION, AIOHTTP_VERSION,
# TORNADO_VERSION, UVICORN_VERSION. The Python is $PY (default .venv/bin/python); the pinned
# libraries and the suites' test requirements are installed into it.
#
# Prints a summary; exits non-zero if any suite failed or ran without the adapter.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
PY="${PY:-.venv/bin/python}"
case "$PY" in /*) ;; */*) PY="$root/$PY" ;; esac
WSPROTO_VERSION="${WSPROTO_VERSION:-1.3.2}"
AIOHTTP_VERSION="${AIOHTTP_VERSION:-3.14.5}"
TORNADO_VERSION="${TORNADO_VERSION:-6.6.1}"
UVICORN_VERSION="${UVICORN_VERSION:-0.55.0}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-300}"
export PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONDONTWRITEBYTECODE=1
unset FASTWS_NO_EXTENSIONS FASTWS_REQUIRE_EXTENSIONS AIOHTTP_NO_EXTENSIONS

plugin_dir="$root/tests/integrations/peer_suites"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
results=()
failed=0

# -- set-up: the pinned libraries, their sdists, the suites' test requirements -----
echo "[peers] installing wsproto==$WSPROTO_VERSION aiohttp==$AIOHTTP_VERSION tornado==$TORNADO_VERSION into $PY"
"$PY" -m pip install -q "wsproto==$WSPROTO_VERSION" "aiohttp==$AIOHTTP_VERSION" "tornado==$TORNADO_VERSION"
# aiohttp's test requirements (requirements/test-common*.in) that its WebSocket
# modules and its conftest/pytest.ini use; unpinned, so that the venv's own
# pytest stays. mypy, python-on-whales (Autobahn in Docker), codspeed and
# pytest-cov serve jobs that are not run here.
"$PY" -m pip install -q coverage freezegun blockbuster pytest-mock pytest-timeout trustme isal zlib-ng
# uvicorn's: its HTTP classes' parsers (httptools, zttp), its test client (httpx2).
echo "[peers] installing uvicorn==$UVICORN_VERSION and its WebSocket tests' requirements"
"$PY" -m pip install -q "uvicorn==$UVICORN_VERSION" httptools zttp httpx2 anyio

for spec in "wsproto==$WSPROTO_VERSION" "aiohttp==$AIOHTTP_VERSION" "tornado==$TORNADO_VERSION" "uvicorn==$UVICORN_VERSION"; do
    echo "[peers] pip download --no-binary :all: --no-deps $spec"
    "$PY" -m pip download -q --no-binary :all: --no-deps -d "$work/sdists" "$spec"
done
for archive in "$work"/sdists/*.tar.gz; do
    tar -xzf "$archive" -C "$work"
done
wsproto_src="$work/wsproto-$WSPROTO_VERSION"
aiohttp_src="$work/aiohttp-$AIOHTTP_VERSION"
tornado_src="$work/tornado-$TORNADO_VERSION"
# Tornado's suite runs from its sdist: build its C extension in place, as its
# own CI does, so the tests of tornado.speedups run too (optional, as in Tornado).
(cd "$tornado_src" && "$PY" setup.py -q build_ext --inplace >"$work/tornado-build.log" 2>&1) \
    || echo "[peers] tornado.speedups not built (its own tests of it will skip)"
# aiohttp's tests must import the installed (compiled) aiohttp, not the
# uncompiled package next to them in the sdist.
mv "$aiohttp_src/aiohttp" "$aiohttp_src/aiohttp-sdist-source"
# Likewise uvicorn's tests import the installed uvicorn, and they run on
# fastws's class through a conftest next to them.
uvicorn_src="$work/uvicorn-$UVICORN_VERSION"
mv "$uvicorn_src/uvicorn" "$uvicorn_src/uvicorn-sdist-source"
cp "$plugin_dir/uvicorn_conftest.py" "$uvicorn_src/tests/protocols/conftest.py"

# -- running one suite ---------------------------------------------------------------
# run_suite LABEL ADAPTER DIR PYTHONPATH_EXTRA [ENV=VAL ...] -- COMMAND...
run_suite() {
    local label="$1" adapter="$2" dir="$3" extra_path="$4"
    shift 4
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    local marker="$work/marker-${label//[^a-zA-Z0-9]/_}.json" log="$work/log-${label//[^a-zA-Z0-9]/_}.txt"
    local t0=$SECONDS rc=0
    printf '\n===== %s =====\n' "$label"
    (cd "$dir" && env "${envs[@]}" FASTWS_PEER_ADAPTER="$adapter" FASTWS_PEER_MARKER="$marker" \
        PYTHONPATH="$plugin_dir${extra_path:+:$extra_path}${PYTHONPATH:+:$PYTHONPATH}" \
        timeout "$SUITE_TIMEOUT" "$@") >"$log" 2>&1 || rc=$?
    tail -n 6 "$log"
    local verdict
    verdict="$("$PY" - "$marker" "$log" "$rc" <<'PY'
import json, re, sys
marker, log, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(log, encoding="utf-8", errors="replace").read()
counts = ""
m = re.findall(r"=* ?(\d+ (?:passed|failed|error)[^\n=]*?) in [\d.]+s", text)
if m:
    counts = m[-1].strip()
else:
    ran = re.findall(r"^Ran (\d+) tests?", text, re.M)
    tail = re.findall(r"^(OK|FAILED)\b(.*)$", text, re.M)
    if ran:
        counts = f"{ran[-1]} tests, " + (" ".join(tail[-1]).strip() if tail else "no result")
try:
    data = json.load(open(marker, encoding="utf-8"))
except (OSError, ValueError):
    data = None
ok = rc == 0
if data is None:
    note, ok = "no marker: adapter never loaded", False
elif not data["installed"] or data["calls"] <= 0:
    note, ok = f"adapter inactive (installed={data['installed']}, calls={data['calls']})", False
else:
    note = f"{data['calls']} calls into fastws ({data['codec']})"
print(("ok" if ok else "FAILED") + "\t" + (counts or f"exit {rc}") + "\t" + note)
PY
)"
    local status="${verdict%%$'\t'*}"
    results+=("$(printf '%-34s %-7s %4ss  %s' "$label" "$status" "$((SECONDS - t0))" "$(echo "$verdict" | cut -f2- | tr '\t' ';')")")
    if [ "$status" != ok ]; then failed=1; fi
}

pytest_args=(-p fastws_peer_plugin -p no:cacheprovider -q)
# wsproto's tests live in tests/ (1.3) or test/ (1.2).
wsproto_tests=tests
if [ ! -d "$wsproto_src/tests" ] && [ -d "$wsproto_src/test" ]; then wsproto_tests=test; fi

for twin in cython python; do
    if [ "$twin" = cython ]; then twin_env=FASTWS_REQUIRE_EXTENSIONS=1; else twin_env=FASTWS_NO_EXTENSIONS=1; fi
    run_suite "wsproto $WSPROTO_VERSION ($twin)" wsproto "$wsproto_src" "$wsproto_src/src" "$twin_env" -- \
        "$PY" -m pytest "${pytest_args[@]}" "$wsproto_tests"
    run_suite "tornado $TORNADO_VERSION ($twin)" tornado "$tornado_src" "$tornado_src" "$twin_env" -- \
        "$PY" "$plugin_dir/tornado_runner.py" tornado.test.websocket_test
done

# aiohttp's pytest.ini adds coverage and xdist options for its own CI; they are
# replaced by the marker selection it uses by default.
aiohttp_args=(-o addopts= -m "not dev_mode and not autobahn and not internal" "${pytest_args[@]}")
aiohttp_tests=("$aiohttp_src"/tests/test_websocket_*.py "$aiohttp_src"/tests/test_web_websocket*.py)
aiohttp_tests=("${aiohttp_tests[@]#"$aiohttp_src"/}")
echo "[peers] aiohttp modules: ${aiohttp_tests[*]}"
run_suite "aiohttp $AIOHTTP_VERSION (C reader, python)" aiohttp "$aiohttp_src" "" FASTWS_NO_EXTENSIONS=1 -- \
    "$PY" -m pytest "${aiohttp_args[@]}" "${aiohttp_tests[@]}"
run_suite "aiohttp $AIOHTTP_VERSION (py reader, cython)" aiohttp "$aiohttp_src" "" \
    FASTWS_REQUIRE_EXTENSIONS=1 AIOHTTP_NO_EXTENSIONS=1 -- \
    "$PY" -m pytest "${aiohttp_args[@]}" "${aiohttp_tests[@]}"

# uvicorn's pytest options add xdist workers for its own CI: replaced. Its
# filterwarnings = error stays. No adapter plugin: the conftest puts fastws's
# class in and writes the marker (calls: the connections it served).
for twin in cython python; do
    if [ "$twin" = cython ]; then twin_env=FASTWS_REQUIRE_EXTENSIONS=1; else twin_env=FASTWS_NO_EXTENSIONS=1; fi
    run_suite "uvicorn $UVICORN_VERSION ($twin)" uvicorn "$uvicorn_src" "" "$twin_env" -- \
        "$PY" -m pytest -o addopts= -p no:cacheprovider -q -rs tests/protocols/test_websocket.py
done

printf '\n===== peer suites with fastws adapters (%ss) =====\n' "$((SECONDS - start))"
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
    echo "peer suites: FAILED"
    exit 1
fi
echo "peer suites: all passed with the adapters active"
