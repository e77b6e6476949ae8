# Two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= demo-out

.PHONY: demo test lint bench docs clean install

install: $(STAMP)

# The CPU build of torch where there is no GPU (a local wheel here); the default build otherwise.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/python -m pip install -q torch; \
	else \
		$(BIN)/python -m pip install -q torch==2.13.0 || \
		$(BIN)/python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu; \
	fi
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps onnx2torch
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/feint demo --out $(OUT)

# Two workers (pytest-xdist, work stealing for the long end-to-end tests): CI's machine has two cores.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal --durations=10

# The documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link or API reference fails.
docs: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[docs]'
	$(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy feint
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m pip install -q --no-deps 'torchattacks>=3.5'
	$(BIN)/python benchmarks/attack_speed.py
	$(BIN)/python benchmarks/audit_speed.py
	$(BIN)/python benchmarks/hardening_overhead.py
	$(BIN)/python benchmarks/blackbox_transfer.py
	$(BIN)/python benchmarks/audit_memory.py
	$(BIN)/python benchmarks/blackbox_speed.py
	$(BIN)/python benchmarks/fooling_physical.py
	$(BIN)/python benchmarks/serve_load.py

clean:
	rm -rf $(OUT) site .pytest_cache .ruff_cache
