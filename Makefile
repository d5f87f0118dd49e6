# fastgen developer commands. `make test` and `make demo` work on a fresh clone.
#
#   .venv        editable install for development: `make demo`, `make bench`, ruff, `make dist`
#   dist/        the sdist and the manylinux wheel (`make dist`)
#   .venv-wheel  a clean venv holding only the wheel from dist/ and its test extras; `make test`
#                runs the test suite against it, so CI tests the package a user installs
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNELS := $(wildcard src/fastgen/_kernels/*.pyx src/fastgen/_kernels/*.pxd src/fastgen/_kernels/hmm/*.pyx src/fastgen/_kernels/hmm/*.pxd)
BENCH_SIZE ?= full
DIST := dist
WHEEL_VENV := .venv-wheel
WHEEL_PY := $(CURDIR)/$(WHEEL_VENV)/bin/python
LINT_PATHS := src tests benchmarks tools examples docs/conf.py setup.py

.PHONY: venv build test lint dist wheel-venv bench demo docs docs-shots clean

venv: $(STAMP) build

# The distribution was called `fastgen` before it became `fastgen-models`: drop an old
# editable install of that name so the two do not both claim the `fastgen` package.
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel "Cython>=3.0" "numpy>=2.0"
	$(PY) -m pip uninstall --quiet --yes fastgen 2>/dev/null || true
	$(PY) -m pip install --quiet -e ".[dev,demo,release,docs]"
	touch $(STAMP)

# Rebuild the Cython kernels in place whenever a .pyx changes (the editable install imports from src/).
build: $(STAMP) $(KERNELS)
	$(PY) setup.py --quiet build_ext --inplace

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)

# dist/: the sdist, and the wheel that `python -m build` builds from the unpacked sdist (so a
# file missing from the sdist fails here, not on a user's machine), repaired by auditwheel
# from the local linux_x86_64 tag to a manylinux one. tools/check_dist.py checks the contents:
# .pyx but no generated .cpp/.so in the sdist; stripped .so, py.typed, no sources in the wheel.
dist: $(STAMP)
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST) .
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/auditwheel repair --wheel-dir $(DIST) $(DIST)/*-linux_*.whl
	rm $(DIST)/*-linux_*.whl
	$(VENV)/bin/auditwheel show $(DIST)/*.whl
	$(VENV)/bin/twine check --strict $(DIST)/*
	$(PY) tools/check_dist.py $(DIST)

# A new venv every time (not --system-site-packages) with the repaired wheel and the extras the
# tests need; nothing from the checkout is installed into it.
wheel-venv: dist
	rm -rf $(WHEEL_VENV)
	$(PY) -m venv $(WHEEL_VENV)
	$(WHEEL_PY) -m pip install --quiet --upgrade pip
	$(WHEEL_PY) -m pip install --quiet "$$(ls $(CURDIR)/$(DIST)/*.whl)[dev,demo,docs]"

# ruff, then the test suite against the installed wheel, run from an empty directory outside the
# checkout so `import fastgen` can only find the installed package (FASTGEN_TEST_INSTALLED=1
# makes tests/conftest.py and benchmarks/conftest.py check that it did). Then every benchmark
# once at the small size, from the repository root (they import `benchmarks.*`; src/ is
# never on sys.path, so `fastgen` is still the wheel's). Then the documentation site, built
# against the wheel with the gallery in its small configuration (make docs).
test: lint wheel-venv
	tmp="$$(mktemp -d)" && cd "$$tmp" && \
		FASTGEN_TEST_INSTALLED=1 $(CURDIR)/$(WHEEL_VENV)/bin/pytest -q -p no:cacheprovider \
			$(CURDIR)/tests; \
		status=$$?; rm -rf "$$tmp"; exit $$status
	FASTGEN_TEST_INSTALLED=1 FASTGEN_BENCH_SIZE=small $(WHEEL_VENV)/bin/pytest -q \
		-p no:cacheprovider benchmarks --benchmark-disable
	$(MAKE) docs DOCS_QUICK=1 DOCS_PY=$(WHEEL_PY)

bench: venv
	mkdir -p benchmark-results
	FASTGEN_BENCH_SIZE=$(BENCH_SIZE) $(VENV)/bin/pytest benchmarks \
		--benchmark-only --benchmark-json=benchmark-results/results.json -p no:randomly
	$(PY) -m benchmarks.report benchmark-results/results.json > benchmark-results/table.md
	cat benchmark-results/table.md

demo: venv
	$(VENV)/bin/fastgen demo --out demo-output

# The documentation site in docs/_build/html: warnings are errors, the gallery's examples run
# (DOCS_QUICK=1: on smaller data, as `make test` builds it), then every internal link and
# image of the built pages is checked, with no network.
# DOCS_PY: the interpreter whose fastgen is documented (make test: the wheel's venv).
DOCS_QUICK ?= 0
DOCS_PY ?= $(PY)
docs: $(STAMP)
	rm -rf docs/_build docs/generated docs/auto_examples
	FASTGEN_DOCS_QUICK=$(DOCS_QUICK) MPLBACKEND=Agg $(DOCS_PY) -m sphinx -W --keep-going -q \
		-b html docs docs/_build/html
	$(DOCS_PY) tools/check_site.py docs/_build/html

# Screenshots of a built site as a reader sees it (headless Chromium, Debian's `chromium`):
# docs/_build/screenshots/*.png. SHOTS: pages relative to docs/_build/html, without .html.
SHOTS ?= index api generated/fastgen.hmm.GaussianHMM auto_examples/index
docs-shots:
	mkdir -p docs/_build/screenshots
	for page in $(SHOTS); do \
		chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1600 \
			--screenshot=docs/_build/screenshots/$$(echo $$page | tr / _).png \
			"file://$(CURDIR)/docs/_build/html/$$page.html" 2>/dev/null || exit 1; \
	done

clean:
	rm -rf build $(DIST) $(WHEEL_VENV) $(VENV) docs/_build docs/generated docs/auto_examples \
		src/fastgen/_kernels/*.c src/fastgen/_kernels/*.cpp src/fastgen/_kernels/*.so
