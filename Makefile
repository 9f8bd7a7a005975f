# The two set-up commands of the README, and the slower checks CI runs beside them.
PYTHON ?= python3

.PHONY: install demo test parity engines gpu-test

install:
	$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	masktrt demo

test: install
	$(PYTHON) -m pytest -m "not slow" -q

# Slow checks: closed-loop parity on real sequences, engine builds; -rP prints their tables.
parity: install
	$(PYTHON) -m pytest -m slow -q -rP

gpu-test: install
	$(PYTHON) -m pytest -m gpu -q
