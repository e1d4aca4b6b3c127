# tinyedge: `make demo` and `make test` set up everything they need on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= build
RUNTIME_SOURCES := $(shell find runtime_c -name '*.c' -o -name '*.h' -o -name '*.def') tinyedge/_runtime_build.py \
                   tinyedge/cross/targets.py

.PHONY: demo test sysdeps sysdeps-cross sysdeps-emulate arm64-python venv runtime bench bench-int8 bench-env codegen clean

demo: venv sysdeps-emulate
	$(BIN)/python examples/digits/demo.py --out-dir $(OUT)/demo

test: venv sysdeps-cross arm64-python
	$(BIN)/python -m pytest -q

# An aarch64 Debian Python for tests/test_extension_arm64.py (debootstrap, about 30 s and 320 MB once,
# in ~/.cache/tinyedge/arm64-python). Built as root only; otherwise that test skips and says why.
arm64-python: sysdeps-cross
	@if [ "$$(id -u)" = 0 ]; then bash scripts/arm64_python.sh >/dev/null || \
	    echo "note: no aarch64 Python root; tests/test_extension_arm64.py will skip" >&2; \
	 else bash scripts/arm64_python.sh --check >/dev/null 2>&1 || \
	    echo "note: no aarch64 Python root (run scripts/arm64_python.sh as root); tests/test_extension_arm64.py will skip" >&2; fi

# System packages (scripts/sysdeps.sh says which and why); the tests also want the ARM cross
# compilers and qemu-user.
sysdeps:
	@bash scripts/sysdeps.sh

sysdeps-cross:
	@bash scripts/sysdeps.sh --cross

# qemu-user only: the demo ends with a deploy to the emulated-pi4 board.
sysdeps-emulate:
	@bash scripts/sysdeps.sh --emulate

venv: $(VENV)/.deps-installed $(VENV)/.runtime-built

# Python packages (test and demo extras included): reinstalled when the project's metadata changes.
$(VENV)/.deps-installed: pyproject.toml setup.py | sysdeps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel cffi
	$(BIN)/pip install -q --no-build-isolation -e ".[test]"
	touch $@

# The C runtime as a cffi extension, rebuilt in place whenever its sources change.
$(VENV)/.runtime-built: $(RUNTIME_SOURCES) $(VENV)/.deps-installed
	$(BIN)/python tinyedge/_runtime_build.py
	touch $@

runtime: $(VENV)/.runtime-built

# Regenerate runtime_c/src/ops.gen.h and docs/ops.md from the op table.
codegen:
	$(BIN)/python -m tinyedge.ir.codegen

# The peers (onnxruntime, LiteRT, TensorFlow) live in their own environment: the tests do not need them.
bench-env: venv
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install -q -r benchmarks/requirements.txt
	.venv-bench/bin/pip install -q --no-build-isolation -e .
	.venv-bench/bin/python tinyedge/_runtime_build.py

bench: bench-env
	.venv-bench/bin/python benchmarks/float_vs_peers.py --out-dir $(OUT)/bench

bench-int8: bench-env
	.venv-bench/bin/python benchmarks/int8_vs_peers.py --out-dir $(OUT)/bench-int8

clean:
	rm -rf $(OUT) build *.egg-info tinyedge/_runtime*.so .pytest_cache .hypothesis
