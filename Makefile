# The two commands a clinic's operator needs: `make chat` and `make test` (see README.md).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: chat run test lint bench check venv clean

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

chat: $(STAMP)
	@$(VPY) -m bot chat $(if $(USER_ID),--user $(USER_ID),)

run: $(STAMP)
	$(VPY) -m bot run

check: $(STAMP)
	$(VPY) -m bot check

lint: $(STAMP)
	$(VPY) -m ruff check bot sheets tests bench
	$(VPY) -m ruff format --check bot sheets tests bench
	$(VPY) -m mypy

test: $(STAMP) lint
	$(VPY) -m pytest

bench: $(STAMP)
	$(VPY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
