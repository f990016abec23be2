# The two commands a newcomer runs: `make book` and `make test`. Both share `make install`.
# TF=gpu installs the CUDA build of TensorFlow instead of the CPU one (run `make clean` first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
TF     ?= cpu
STAMP  := $(VENV)/.installed-$(TF)
PYTEST_ARGS ?=
# BOOK_FLAGS=--publish builds the edition CI deploys to GitHub Pages (.github/workflows/book.yml).
BOOK_FLAGS ?=

.PHONY: install book test proofs release clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(TF),course,dev,cluster]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (tfclinic)" >/dev/null
	@touch $@

book: install
	$(BIN)/tfclinic book $(BOOK_FLAGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The proofs behind the graders' thresholds: every lesson on five seeds, margins, regrades
# under load. Longer than `make test` (marker `proof`); CI runs both.
proofs: install
	$(BIN)/python -m pytest -m proof $(PYTEST_ARGS)

release: install
	$(BIN)/tfclinic release

clean:
	rm -rf $(VENV) book/_build src/*.egg-info .pytest_cache
