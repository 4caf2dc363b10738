#!/usr/bin/env bash
# Valgrind memcheck of the compiled codec twin: run the codec tests
# (tests/test_codec_*.py, compiled twin only) under memcheck and fail on any
# memory error (invalid read/write, use of uninitialised values, bad free)
# and on any "definitely lost" leak that involves fastws: a report whose
# stack (or the origin of the uninitialised value) has a frame in the
# compiled twin (_codec, its SIMD kernels).
#
# CPython is run with PYTHONMALLOC=malloc so that every Python allocation goes
# through malloc, where memcheck sees it. CPython's own reports (an interpreter
# not built for valgrind reports some at start-up, e.g. in int.from_bytes) are
# counted and shown, not failed on; scripts/valgrind-python.supp silences what
# it leaves behind at exit. Hypothesis runs few examples here (the "default"
# profile): memcheck makes Python 20-50 times slower (about 20 minutes here).
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

log="${FASTWS_VALGRIND_LOG:-$(mktemp)}"
echo "[valgrind] memcheck log: $log"
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

# Split the log into reports and keep those with a frame of fastws' own code.
"$PY" - "$log" <<'PY' || rc=98
import re
import sys

text = open(sys.argv[1], errors="replace").read()
blocks, current = [], []
for line in text.splitlines():
    body = re.sub(r"^==\d+== ?", "", line)
    if not body.strip():
        if current:
            blocks.append(current)
        current = []
    else:
        current.append(body)
if current:
    blocks.append(current)
# A report starts with its kind, not with a frame ("at"/"by") or a header.
reports = [b for b in blocks if not b[0].lstrip().startswith(("at ", "by ")) and
           ("at 0x" in "\n".join(b) or "are definitely lost" in b[0])]
# fastws' frames: Cython's names (__pyx_..._6fastws_6_codec_...), the
# generated C, the .pyx, the SIMD sources and their fws_ functions.
ours_re = r"fastws|_codec\.(?:c|pyx):|_simd|\b(?:x86|dispatch|neon)\.c:|fastpath\.h:|kernels\.h:|\bfws_"
ours = [b for b in reports if re.search(ours_re, "\n".join(b))]
cpython = [b for b in reports if b not in ours]
leaks = [b for b in ours if "definitely lost" in b[0]]
print(f"[valgrind] {len(reports)} report(s): {len(ours)} involve fastws "
      f"({len(leaks)} definite leak(s)), {len(cpython)} in CPython alone")
kinds = {}
for b in cpython:
    kinds[b[0].strip()] = kinds.get(b[0].strip(), 0) + 1
for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:10]:
    print(f"[valgrind]   CPython only: {count} x {kind}")
for b in ours[:20]:
    print("\n".join(["---- fastws report:"] + b[:40]))
raise SystemExit(1 if ours else 0)
PY

summary="$(grep -E "ERROR SUMMARY|definitely lost:" "$log" | tail -n 2 | sed 's/^==[0-9]*== *//' | tr '\n' ' ' || true)"
echo "[valgrind] $summary"
if [ "$rc" -eq 98 ]; then
    echo "[valgrind] memcheck found errors in fastws (see above and $log)"
    exit 1
elif [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ]; then
    echo "[valgrind] pytest exited with $rc"
    tail -n 30 "$log"
    exit 1
fi
echo "[valgrind] no memory error and no definite leak in fastws ($((SECONDS - start)) s)"
