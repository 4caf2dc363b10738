#!/usr/bin/env bash
# Static checks, as the lint workflow runs them: ruff (lint and format),
# cython-lint, mypy --strict, import-linter. Installs the `lint` extra into
# .venv first (scripts/setup.sh creates .venv when it is missing).
# Runs every check and exits non-zero if any failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${FASTWS_PYTHON:-.venv/bin/python}"
if [ -z "${FASTWS_PYTHON:-}" ] && [ ! -x "$PY" ]; then
    bash scripts/setup.sh
fi
# uvloop: the asyncio layer imports it (optionally); mypy checks that use.
"$PY" -m pip install -q -e ".[lint,uvloop]" >/dev/null
BIN="$(dirname "$PY")"
export PATH="$BIN:$PATH"  # cython-lint runs pycodestyle from PATH

failed=()
check() {
    local name="$1"
    shift
    printf '\n== %s: %s\n' "$name" "$*"
    "$@" || failed+=("$name")
}

pyx=(src/fastws/*.pyx src/fastws/*.pxd src/fastws/asyncio/*.pxd)
check "ruff check" "$PY" -m ruff check src tests bench docs
check "ruff format" "$PY" -m ruff format --check src tests bench docs
if [ -e "${pyx[0]}" ]; then
    check "cython-lint" "$BIN/cython-lint" "${pyx[@]}"
fi
check "mypy --strict" "$PY" -m mypy
# lint-imports reads the package as installed: the editable install above.
check "import-linter" "$BIN/lint-imports"
# The compiled twin against its typed contract, at run time.
if FASTWS_REQUIRE_EXTENSIONS=1 "$PY" -c "import fastws._codec" >/dev/null 2>&1; then
    check "stubtest" env FASTWS_REQUIRE_EXTENSIONS=1 "$PY" -m mypy.stubtest fastws._codec \
        --ignore-disjoint-bases --ignore-unused-allowlist --allowlist .github/stubtest-allowlist.txt
else
    echo "stubtest: skipped, the compiled twin does not import"
fi

if [ "${#failed[@]}" -ne 0 ]; then
    printf '\nlint: failed: %s\n' "${failed[*]}"
    exit 1
fi
printf '\nlint: all checks passed\n'
