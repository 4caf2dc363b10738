# Reliability and security checks (see SECURITY.md and fuzzing/README.md).
# The test suite itself is scripts/test.sh; these targets run outside it.

PYTHON ?= .venv/bin/python
FUZZ_INPUTS ?= 10000000
FUZZ_JOBS ?= 1

.PHONY: fuzz-smoke fuzz-long sanitize valgrind docs docs-check bench-data bench-plots

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

## docs: the documentation site into docs/_build/html; every warning is an error (~15 s)
docs:
	$(PYTHON) -m sphinx -W -n -q -b html docs docs/_build/html

## docs-check: docs, then its internal links (external ones are not followed)
docs-check: docs
	$(PYTHON) docs/checklinks.py docs/_build/html

BENCH_DATA = docs/_static/bench/data

## bench-data: quick runs of the benchmarks, their JSON into docs/_static/bench/data (a few minutes)
bench-data:
	$(PYTHON) bench/codec_peers.py --quick --json $(BENCH_DATA)/codec_peers.json
	$(PYTHON) bench/echo_servers.py --quick --loops asyncio --json $(BENCH_DATA)/echo_servers.json
	$(PYTHON) bench/broadcast.py --quick --only fanout --json $(BENCH_DATA)/broadcast.json
	$(PYTHON) -m pytest bench/test_bench_mask.py bench/test_bench_parse.py -q -p no:cacheprovider \
		--benchmark-only --benchmark-max-time=0.02 --benchmark-min-rounds=3 --benchmark-warmup=off \
		--benchmark-json=$(BENCH_DATA)/pytest_benchmark.raw.json
	$(PYTHON) bench/plot.py --import-pytest-benchmark $(BENCH_DATA)/pytest_benchmark.raw.json
	rm -f $(BENCH_DATA)/pytest_benchmark.raw.json

## bench-plots: the SVG charts of docs/_static/bench from that data (byte-identical for the same data)
bench-plots:
	$(PYTHON) bench/plot.py
