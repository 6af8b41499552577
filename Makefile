# Set-up and main jobs. Each target creates .venv on a fresh machine.
# torch is installed first from the CPU pin when the venv has none (an unpinned
# torch would pull a multi-GB CUDA build); the package itself only asks for torch>=2.3.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test docs lint bench slow clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_PIN)
	touch $@

$(VENV)/.base: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e ".[dev]"
	touch $@ $(VENV)/.base

$(VENV)/.docs: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e ".[docs]"
	touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(VENV)/bin/iasym demo

test: $(VENV)/.dev
	$(PY) -m pytest -q -n 2 --dist loadgroup tests --nbmake notebooks

# The documentation site, offline: MathJax comes from the docs extra, pages from docs/ and the
# notebooks, the API reference from the docstrings; any warning fails the build.
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

slow: $(VENV)/.dev
	$(PY) -m pytest -q -m slow

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check theory numerics tests bench docs/hooks
	$(VENV)/bin/mypy theory numerics

bench: $(VENV)/.base
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
