# The README's two commands are `make run` and `make test`; everything they need is set up here.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup corpus run test test-fast reliability browser lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU build in pyproject.toml; install it first so nothing pulls CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

setup: $(STAMP)

# Build the bundled corpus into the default store (re-running adds nothing and reuses the run).
corpus: setup
	$(PY) -m pipelines ingest corpus/excerpts.csv --sources corpus/sources.csv
	$(PY) -m pipelines build

run: corpus
	$(PY) -m crosswalk_ui.serve

# The browser tests need Debian's chromium; the PDF workshop cards use DejaVu Sans when it is there.
browser:
	@command -v chromium >/dev/null && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core)

test: setup browser
	CROSSWALK_REQUIRE_BROWSER=1 $(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not model and not browser and not slow"

# The reliability tests (#8) at full strength: 50 kills, 300 fuzzed files per format, a
# million-row CSV, a 100 MB file. Figures go to test-artifacts/reliability.json.
RELIABILITY_TESTS := tests/test_fuzz_input.py tests/test_input_limits.py tests/test_kills.py \
	tests/test_concurrency.py tests/test_hostile_text.py tests/test_boundaries.py

reliability: setup
	rm -f test-artifacts/reliability.json
	CROSSWALK_RELIABILITY=full $(PY) -m pytest $(RELIABILITY_TESTS)
	cat test-artifacts/reliability.json

lint: setup
	$(PY) -m ruff check pipelines crosswalk_ui tests benchmarks app.py

bench: corpus
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/quality.py
	$(PY) benchmarks/perf.py
	$(PY) benchmarks/workshop.py

clean:
	rm -rf $(VENV) data .pytest_cache
