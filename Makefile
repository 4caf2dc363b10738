# Reliability and security checks (see SECURITY.md and fuzzing/README.md).
# The test suite itself is scripts/test.sh; these targets run outside it.

PYTHON ?= .venv/bin/python
FUZZ_INPUTS ?= 10000000
FUZZ_JOBS ?= 1

.PHONY: fuzz-smoke fuzz-long sanitize valgrind

## fuzz-smoke: every atheris harness for a few seconds (~25 s in all; CI)
fuzz-smoke:
	PYTHON=$(PYTHON) bash fuzzing/run.sh --smoke

## fuzz-long: every harness for FUZZ_INPUTS inputs (default 10 million), FUZZ_JOBS at once
fuzz-long:
	PYTHON=$(PYTHON) bash fuzzing/run.sh --long $(FUZZ_INPUTS) --jobs $(FUZZ_JOBS)

## sanitize: ASan + UBSan build of the codec; whole test suite and fuzz smoke with zero reports
sanitize:
	PYTHON=$(PYTHON) bash scripts/sanitize.sh

## valgrind: memcheck of the codec tests (compiled twin); fails on errors and definite leaks
valgrind:
	PYTHON=$(PYTHON) bash scripts/valgrind.sh
