# The two commands of the README:
#   make study   -> set up .venv, run the default study end to end, write results/default/paper.pdf
#   make test    -> set up .venv, run the tests (they include the whole DAG on the smoke profile)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= default
CORES ?= 2
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --workflow-profile workflow/profiles/default \
	--configfile workflow/config/$(PROFILE).yaml --cores $(CORES)

.PHONY: study test dag clean-results lint readme bench

$(BIN)/.installed: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH, or set PYTHON=..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

study: $(BIN)/.installed
	$(SNAKEMAKE)
	@echo "paper: results/$(PROFILE)/paper.pdf"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

dag: $(BIN)/.installed
	$(SNAKEMAKE) -n

lint: $(BIN)/.installed
	$(BIN)/ruff check .

clean-results:
	rm -rf results/$(PROFILE)

# Copy the headline table of the last run and the last benchmark into README.md (between their markers).
readme: $(BIN)/.installed
	$(BIN)/python -m analysis.readme --profile $(PROFILE)

# Benchmarks write JSON under results/bench/ (never timed tests).
bench: $(BIN)/.installed
	$(BIN)/python -m analysis.benchmark --profile $(PROFILE)
