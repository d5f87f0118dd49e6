# fastgen developer commands. `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNELS := $(wildcard src/fastgen/_kernels/*.pyx src/fastgen/_kernels/*.pxd)
BENCH_SIZE ?= full

.PHONY: venv build test lint bench demo clean

venv: $(STAMP) build

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel "Cython>=3.0" "numpy>=2.0"
	$(PY) -m pip install --quiet -e ".[dev,demo]"
	touch $(STAMP)

# Rebuild the Cython kernels in place whenever a .pyx changes (the editable install imports from src/).
build: $(STAMP) $(KERNELS)
	$(PY) setup.py --quiet build_ext --inplace

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks

test: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/pytest -q tests
	FASTGEN_BENCH_SIZE=small $(VENV)/bin/pytest -q benchmarks --benchmark-disable

bench: venv
	mkdir -p benchmark-results
	FASTGEN_BENCH_SIZE=$(BENCH_SIZE) $(VENV)/bin/pytest benchmarks \
		--benchmark-only --benchmark-json=benchmark-results/results.json -p no:randomly
	$(PY) -m benchmarks.report benchmark-results/results.json > benchmark-results/table.md
	cat benchmark-results/table.md

demo: venv
	$(VENV)/bin/fastgen demo --out demo-output

clean:
	rm -rf build src/fastgen/_kernels/*.c src/fastgen/_kernels/*.so $(VENV)
