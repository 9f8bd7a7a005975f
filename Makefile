# The two set-up commands of the README, and the slower checks CI runs beside them.
PYTHON ?= python3

.PHONY: install demo test parity engines gpu-test gpu-check gpu-wheels cpu-kernels tsan

install:
	$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	masktrt demo

test: install
	$(PYTHON) -m pytest -m "not slow" -q

# Slow checks: closed-loop parity and the accuracy verdict on real sequences, engine builds, the
# VOT toolkit (its extra is installed first), the serving load test, the edge install; -rP prints
# their tables (~30 min on 2 cores).
parity: install
	$(PYTHON) -m pip install -q -e ".[vot]"
	$(PYTHON) -m pytest -m "slow and not full and not soak" -q -rP

# The part of them CI runs beside `make test` (marker `ci`, ~2 min on 2 cores): the precision
# verdict gate (FP16 within budget, a broken graph caught) and ONNX Runtime FP32 tensor parity
# and the davis-blackswan closed loop of SiamMask and OceanPlus.
.PHONY: ci-slow
ci-slow: install
	$(PYTHON) -m pytest -m "slow and ci" -q -rP

# The 10,000-frame memory soaks of the API and the CLI (docs/reliability.md): minutes each.
.PHONY: soak
soak: install
	$(PYTHON) -m pytest -m soak -q -rP

# Full-size deployment graphs (RTS at 480x832 with 32/50 memory slots): minutes each on a CPU,
# so CI runs the same graphs at small sizes instead (marker `full`).
.PHONY: full-size
full-size: install
	$(PYTHON) -m pytest -m full -q -rP

# The edge install (docs/edge-install.md): a fresh venv with only the runtime extras, no torch and
# no onnx, tracks davis-blackswan and builds TensorRT-RTX engines. Also part of `make parity`.
.PHONY: edge-test
edge-test: install
	$(PYTHON) -m pytest -m slow -q -rP tests/install/test_edge_install.py

gpu-test: install
	$(PYTHON) -m pytest -m gpu -q

# The whole GPU verification in one command (scripts/gpu_check.py; docs/engines-and-gpus.md): report in
# $(OUT) (the device tool's $OUT) or out/gpu-check. Without a GPU it says "no GPU" and exits 0.
gpu-check:
	$(PYTHON) scripts/gpu_check.py $(if $(OUT),--out $(OUT),)

# Once, on a machine with the registry: the wheels gpu-check installs, cut into carryable parts.
GPU_WHEELS ?= tensorrt-rtx-cu13-bindings==1.7.1.116 tensorrt-rtx-cu13-libs==1.7.1.116 onnxruntime-gpu
gpu-wheels:
	mkdir -p .gpu/whl
	$(PYTHON) -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 -d .gpu/whl $(GPU_WHEELS)
	$(PYTHON) scripts/gpu_wheels.py .gpu

# The CUDA kernels executed on the CPU (kernels/host_module.py) against their references.
cpu-kernels:
	$(PYTHON) -m pytest -q -m "not slow" tests/kernels/test_cpu_kernels.py tests/kernels/test_cpu_layer.py

# The same with 1080p/4K cases and the ThreadSanitizer build.
tsan:
	$(PYTHON) -m pytest -q -m slow tests/kernels/test_cpu_kernels.py tests/kernels/test_cpu_layer.py

# The tracking service's venv (docs/serving.md): PyTriton needs a shared libpython, so
# the venv is made from the system python3, without torch. VENV=DIR overrides where it goes.
.PHONY: serve-venv serve-test
serve-venv:
	scripts/serve_venv.sh $(VENV)

# Server + load test with 1 and 4 streams on a small export (marker slow, part of `make parity`).
serve-test: install
	$(PYTHON) -m pytest -m slow -q -rP tests/serve
