# Set-up is two commands on a fresh machine: `make test` and `make study`. Each installs what it needs
# into a local virtual environment first (.venv), so nothing else is required but python3 >= 3.11.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# PyTorch is pinned here only for the install step (a CPU build is on disk on our machines); the package
# itself accepts torch>=2.3. Override with `make test TORCH=torch` to take whatever your platform offers.
TORCH  ?= torch==2.13.0
ARGS   ?=

.PHONY: install test doctest study bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q $(ARGS)

doctest: install
	$(PY) -m pytest -q --doctest-modules hybridtune

study: install
	$(VENV)/bin/hybridtune study --model resnet $(ARGS)

bench: install
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
