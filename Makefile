# Two set-up commands on a fresh machine: `make demo` and `make test`.
# Both create (or reuse) the Python 3.10 virtual environment in .venv.
PYTHON_VERSION := 3.10.13
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: venv demo test lint clean bench sanafe crosscheck snntorch crossframework

$(PY):
	@pyenv_py="$$HOME/.pyenv/versions/$(PYTHON_VERSION)/bin/python3"; \
	if [ -x "$$pyenv_py" ]; then base="$$pyenv_py"; \
	elif command -v python3.10 >/dev/null 2>&1; then base=python3.10; \
	else base=python3; fi; \
	"$$base" -c 'import sys; assert sys.version_info[:2] == (3, 10), "sca_lava needs Python 3.10 (lava-nc 0.10 / lava-dl 0.6); found " + sys.version.split()[0]' && \
	"$$base" -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sca-lava demo --out runs/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check sca_lava tests benchmarks

test: $(STAMP) lint
	$(PY) -m pytest -n $(JOBS) --durations=15

bench: $(STAMP)
	$(PY) benchmarks/bench_speed.py

# SANA-FE (GPL-3.0) is optional: only benchmarks/crosscheck_sanafe.py and an optional test use it
sanafe: $(STAMP)
	$(PY) -m pip install -q sanafe

crosscheck: sanafe
	$(PY) benchmarks/crosscheck_sanafe.py --json runs/crosscheck_sanafe.json

# snnTorch (MIT) is optional: only benchmarks/bench_nir.py and an optional test use it (docs/nir.md)
snntorch: $(STAMP)
	$(PY) -m pip install -q -e '.[crossframework]'

crossframework: snntorch
	$(PY) benchmarks/bench_nir.py --json runs/bench_nir.json

clean:
	rm -rf runs .pytest_cache .ruff_cache
