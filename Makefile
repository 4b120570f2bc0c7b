# The README's two commands: `make run` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: install install-test vllm-env run test lint lock clean assets

# Reinstalls only when pyproject.toml or the pinned constraints change.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Citewise needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip's own progress is shown (a line per package, a bar per download): the first install
# takes minutes and about 2 GB, and silence looks like a hang.
$(VENV)/.installed: $(BIN)/python pyproject.toml $(CONSTRAINTS)
	@echo "Installing Citewise and its dependencies into $(VENV): the first time takes about 5 minutes and 2 GB of disk (PyTorch is the largest part); later runs skip this."
	$(BIN)/pip install --progress-bar on -c $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# A separate environment with a real vLLM server (CPU build) for tests/vllm; without it
# those tests are skipped. About 2.5 GB and a few minutes; CI always builds it.
vllm-env:
	tests/vllm/setup_vllm.sh

# The port is checked first (standard-library Python), so a port in use is one line now,
# not a crash after the install and the migrations; serve checks it again.
run:
	@$(PYTHON) platform/citewise/ops/ports.py "$(HOST)" "$(PORT)"
	@$(MAKE) --no-print-directory install
	$(BIN)/python manage.py serve

test: install-test
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/python tools/mypy_baseline.py
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Re-pins requirements/constraints.txt from the current environment (after changing
# dependencies in pyproject.toml). torch keeps its plain version so any build matches.
lock: install-test
	$(BIN)/pip freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/' > $(CONSTRAINTS)

# Re-fetches the vendored front-end files (htmx and its SSE extension) from the npm
# registry by the exact versions in frontend/assets.py; they are committed, so `make run`
# needs no Node. Standard-library Python: no virtual environment needed.
assets:
	$(PYTHON) -m frontend.assets

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
