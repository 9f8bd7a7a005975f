# The two set-up commands of the README, and the slower checks CI runs beside them.
PYTHON ?= python3

.PHONY: install demo test parity engines gpu-test

install:
	$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	masktrt demo

test: install
	$(PYTHON) -m pytest -m "not slow and not gpu" -q

# Closed-loop parity of ONNX Runtime FP32 against the PyTorch reference on real sequences.
parity: install
	$(PYTHON) -m pytest -m slow -q

gpu-test: install
	$(PYTHON) -m pytest -m gpu -q
