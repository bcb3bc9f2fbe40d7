# fastrnn: `make test` sets up everything on a fresh Debian 12 machine and runs the suite.
#
#   make gui      the same set-up, then the Qt explorer on the bundled corpus (with no
#                 display: offscreen for a fixed number of steps, screenshots, prints where)
#   make test     apt packages (if missing), .venv, editable install, torch oracle, pytest
#   make build    rebuild the Cython kernels in place (incremental)
#   make bench    benchmarks/bench_kernels.py against PyTorch (writes benchmarks/results/)
#   make lint     ruff + cython-lint
#   make clean    remove build output (keeps .venv)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.fastrnn-installed
KERNEL_SOURCES := $(wildcard fastrnn/_kernels/*.pyx fastrnn/_kernels/*.pxd fastrnn/_kernels/*.h)

.PHONY: test build bench lint clean system gui

system:
	@PYTHON=$(PYTHON) sh .ci/setup-system.sh

$(STAMP): pyproject.toml setup.py
	@PYTHON=$(PYTHON) sh .ci/setup-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "setuptools>=77" wheel "cython>=3.0" "numpy>=2.0" "blis>=1.0,<2"
	$(PIP) install -q $(TORCH)
	$(PIP) install -q --no-build-isolation -e ".[gui,test,distributed]"
	touch $(STAMP)

build: $(STAMP) $(KERNEL_SOURCES)
	$(PY) setup.py -q build_ext --inplace

gui: build
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		FASTRNN_GUI_XCB=1 PYTHON=$(PYTHON) sh .ci/setup-system.sh; fi
	$(PY) -m gui $(GUI_ARGS)

test: build
	$(PY) -m pytest -q

bench: build
	$(PY) benchmarks/bench_kernels.py

lint: $(STAMP)
	$(PIP) install -q ruff cython-lint
	$(VENV)/bin/ruff check fastrnn tests benchmarks
	$(VENV)/bin/cython-lint fastrnn/_kernels

clean:
	rm -rf build fastrnn/_kernels/*.c fastrnn/_kernels/*.so fastrnn/_kernels/*.html
