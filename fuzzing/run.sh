#!/usr/bin/env bash
# Run the atheris harnesses of fuzzing/.
#
#   fuzzing/run.sh --smoke            every harness for a few seconds (CI: ~25 s in all)
#   fuzzing/run.sh --long N           every harness for N inputs (the issue asks for 10,000,000)
#   fuzzing/run.sh --time S           every harness for S seconds
#   fuzzing/run.sh ... --only NAME    one harness (frame_parser, utf8, handshake, deflate)
#   fuzzing/run.sh ... --jobs J       J harnesses at once (default 1; the long runs are CPU bound)
#
# Each harness starts from its seeds (fuzzing/corpus/<harness>/, read only)
# and keeps what it learns in a work corpus under $FASTWS_FUZZ_WORK (default:
# a fastws-fuzz folder in the temporary directory), so that a later run goes
# on from there. A crash, an undocumented exception or a disagreement stops
# the harness and leaves the input in $FASTWS_FUZZ_WORK/artifacts/; replay it
# with `python fuzzing/fuzz_<harness>.py <file>` and add it to
# tests/hostile/test_fuzz_regressions.py.
#
# Environment: PYTHON (default: .venv/bin/python if present, else python3),
# FASTWS_FUZZ_WORK, FASTWS_FUZZ_ARGS (more libFuzzer flags; they come last and
# win). libFuzzer's -timeout counts wall-clock time: for a long run that may
# be paused (SIGSTOP, a busy shared machine) pass FASTWS_FUZZ_ARGS=-timeout=900,
# or a pause is reported as a timeout.
# Exit status: 0 when every harness finished without a finding.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
work="${FASTWS_FUZZ_WORK:-${TMPDIR:-/tmp}/fastws-fuzz}"

mode=smoke
amount=""
only=""
jobs=1
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) mode=smoke ;;
        --long) mode=long; amount="${2:?--long needs a number of inputs}"; shift ;;
        --time) mode=time; amount="${2:?--time needs seconds}"; shift ;;
        --only) only="${2:?--only needs a harness name}"; shift ;;
        --jobs) jobs="${2:?--jobs needs a number}"; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

harnesses=(frame_parser utf8 handshake deflate)
if [ -n "$only" ]; then harnesses=("$only"); fi

if ! "$PYTHON" -c "import atheris" 2>/dev/null; then
    echo "[fuzz] atheris is not installed: $PYTHON -m pip install atheris" >&2
    exit 2
fi

case "$mode" in
    smoke) limits=(-max_total_time=6 -runs=100000000) ;;
    long) limits=(-runs="$amount") ;;
    time) limits=(-max_total_time="$amount" -runs=1000000000000) ;;
esac

mkdir -p "$work/artifacts" "$work/logs"
run_one() {
    local name="$1" target="$here/fuzz_$1.py"
    if [ "$name" = deflate ] && ! "$PYTHON" -c "import fastws.extensions.permessage_deflate" 2>/dev/null; then
        echo "[fuzz] $name: permessage-deflate is not available: skipped"
        return 0
    fi
    local corpus="$work/corpus/$name" log="$work/logs/$name.log"
    mkdir -p "$corpus"
    local start=$SECONDS rc=0
    # -max_len: frames and heads of a few KiB reach every branch; larger
    # inputs only slow each run down. -rss_limit_mb: a harness that holds
    # more than this is a finding too (memory the input made us spend).
    # shellcheck disable=SC2086
    "$PYTHON" "$target" "${limits[@]}" -max_len=4096 -rss_limit_mb=1024 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$name-" \
        ${FASTWS_FUZZ_ARGS:-} "$corpus" "$here/corpus/fuzz_$name" >"$log" 2>&1 || rc=$?
    local runs rate
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    if [ "$rc" -ne 0 ]; then
        echo "[fuzz] $name: FINDING after ${runs:-?} inputs ($((SECONDS - start)) s); log: $log"
        grep -E "Uncaught Python exception|Finding|Error|ERROR|Test unit written" "$log" | head -n 20 || true
        return 1
    fi
    echo "[fuzz] $name: ${runs:-?} inputs, ${rate:-?} exec/s, $((SECONDS - start)) s, no finding"
}

status=0
if [ "$jobs" -le 1 ]; then
    for name in "${harnesses[@]}"; do
        run_one "$name" || status=1
    done
else
    pids=()
    for name in "${harnesses[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
        run_one "$name" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
fi
exit "$status"
