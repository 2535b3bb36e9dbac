# The two commands of the README:
#   make study   -> set up .venv, run the default study end to end, write results/default/paper.pdf
#   make test    -> set up .venv, run the tests (they include the whole DAG on the smoke profile)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= default
TOLERANCE ?= auto
CORES ?= 2
# cffconvert gets its own environment: it needs jsonschema<4 (see requirements-cffconvert.lock).
CFF_VENV := .venv-cffconvert
# mutmut gets its own environment layered over .venv (see requirements-mutants.lock).
MUT_VENV := .venv-mutants
MUTANT_CORES ?= $(CORES)
# The Snakemake catalog's layout (config/README.md): PROFILE=default is config/config.yaml, any other config/<name>.yaml;
# OVERLAY=name adds config/overlays/<name>.yaml on top of the profile's config (e.g. OVERLAY=exploratory).
CONFIG_FILES := config/$(if $(filter default,$(PROFILE)),config,$(PROFILE)).yaml $(if $(OVERLAY),config/overlays/$(OVERLAY).yaml)
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --workflow-profile workflow/profiles/default \
	--configfile $(CONFIG_FILES) --cores $(CORES)

.PHONY: card card-profile study test test-unit dag clean-results lint readme bench profile-step gpu-check report test-slurm cite archive verify unlock mutants

$(BIN)/.installed: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH, or set PYTHON=..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The card's extra (transformers, safetensors: docs/card.md), layered on .venv with requirements.lock as constraints.
$(BIN)/.card-installed: requirements-card.lock $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c requirements.lock -r requirements-card.lock
	touch $@

$(CFF_VENV)/bin/.installed: requirements-cffconvert.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH, or set PYTHON=..."; exit 1; }
	test -x $(CFF_VENV)/bin/python || $(PYTHON) -m venv $(CFF_VENV)
	$(CFF_VENV)/bin/python -m pip install --quiet -r requirements-cffconvert.lock
	touch $@

# The .pth file makes .venv's packages (torch, pandas, pytest, the project) importable in .venv-mutants;
# it is removed while pip runs so pip never sees, or touches, .venv's packages.
$(MUT_VENV)/bin/.installed: requirements-mutants.lock $(BIN)/.installed
	test -x $(MUT_VENV)/bin/python || $(PYTHON) -m venv $(MUT_VENV)
	site=$$($(MUT_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") && \
		rm -f "$$site/gradflow-venv.pth" && \
		$(MUT_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-mutants.lock && \
		$(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$$site/gradflow-venv.pth"
	touch $@

study: $(BIN)/.installed
	$(SNAKEMAKE)
	@echo "paper: results/$(PROFILE)/paper.pdf"

test: $(BIN)/.installed $(BIN)/.card-installed $(CFF_VENV)/bin/.installed
	$(BIN)/python -m pytest -q

# The unit tests only: tests/unit/ (tests/workflow/ runs Snakemake, the smoke study and the tutorial).
test-unit: $(BIN)/.installed $(BIN)/.card-installed $(CFF_VENV)/bin/.installed
	$(BIN)/python -m pytest -q tests/unit

# The gradient-flow card of any local causal LM (docs/card.md): results/cards/<name>/ (tables, figure, card.pdf), or OUT.
# MODEL: a Hugging Face model directory saved locally, or a study checkpoint (.pt); nothing is downloaded.
CONTEXT ?= 128
MAX_MEMORY_MB ?= 2048
card: $(BIN)/.card-installed
	@test -n "$(MODEL)" || { echo "usage: make card MODEL=<local model directory or study checkpoint .pt> [TEXT=<file>] [CONTEXT=<n>] [SEQUENCES=<n>] [MAX_MEMORY_MB=<n>]"; exit 2; }
	$(BIN)/python -m analysis.card --model "$(MODEL)" --out "$(or $(OUT),results/cards/$(basename $(notdir $(MODEL:/=))))" \
		$(if $(TEXT),--text "$(TEXT)") --context $(CONTEXT) $(if $(SEQUENCES),--sequences $(SEQUENCES)) \
		--max-memory-mb $(MAX_MEMORY_MB)

# Every model and text listed in workflow/card/card.yaml, through Snakemake (one job per card).
card-profile: $(BIN)/.card-installed
	$(BIN)/snakemake --snakefile workflow/card/Snakefile --configfile workflow/card/card.yaml --cores $(CORES)

dag: $(BIN)/.installed
	$(SNAKEMAKE) -n

# Validate CITATION.cff and print the BibTeX entry the README's "How to cite" shows.
cite: $(CFF_VENV)/bin/.installed
	$(CFF_VENV)/bin/cffconvert --validate -i CITATION.cff
	$(CFF_VENV)/bin/cffconvert -f bibtex -i CITATION.cff

# Pack the finished study into results/archives/gradflow-$(PROFILE).tar.gz (deterministic; prints its SHA-256).
archive: $(BIN)/.installed
	$(BIN)/python -m tooling.archive --profile "$(PROFILE)"

# Compare results/$(PROFILE) with a published archive (tolerances: tooling/tolerances.py); non-zero exit on a mismatch.
verify: $(BIN)/.installed
	@test -n "$(ARCHIVE)" || { echo "usage: make verify ARCHIVE=path/to/gradflow-<profile>.tar.gz [PROFILE=...] [TOLERANCE=auto|exact|cross-device]"; exit 2; }
	$(BIN)/python -m tooling.verify --archive "$(ARCHIVE)" --profile "$(PROFILE)" --tolerance "$(TOLERANCE)"

# After a kill or power loss: remove Snakemake's stale lock; `make study` then resumes (docs/reliability.md).
unlock: $(BIN)/.installed
	$(SNAKEMAKE) --unlock

# ruff on the Python, then `snakemake --lint` on every config (it exits non-zero when it flags anything).
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	for config in config/*.yaml; do \
		$(BIN)/snakemake --snakefile workflow/Snakefile --workflow-profile workflow/profiles/default \
			--configfile "$$config" --lint || exit 1; \
	done

# Snakemake's HTML report of the last run of PROFILE: figures by claim, the verdicts, the paper, runtimes.
report: $(BIN)/.installed
	$(SNAKEMAKE) --report results/$(PROFILE)/report.html
	@echo "report: results/$(PROFILE)/report.html"

# Opt-in (root, a few minutes): a one-node SLURM cluster from Debian's slurm-wlm and munge runs the smoke
# study through workflow/profiles/slurm (docs/slurm.md).
test-slurm: $(BIN)/.installed
	$(BIN)/python tests/slurm/run_smoke_cluster.py

clean-results:
	rm -rf results/$(PROFILE)

# Mutation testing (mutmut) of the claims' rules, the statistics they decide with and the measures' table glue
# (scope: tooling/mutants.py; docs/mutation.md), one worker per core; not part of `make test`.
# Kill rate and survivors: results/mutants.json; `rm -rf mutants` first for a run from scratch.
mutants: $(MUT_VENV)/bin/.installed
	$(MUT_VENV)/bin/python -m tooling.mutants --max-children $(MUTANT_CORES)

# Splice the generated blocks of the last run and the last benchmark into README.md, docs/results.md and docs/performance.md.
readme: $(BIN)/.installed
	$(BIN)/python -m tooling.readme --profile $(PROFILE)

# Benchmarks write JSON under results/bench/ (never timed tests).
bench: $(BIN)/.installed $(BIN)/.card-installed
	$(BIN)/python -m tooling.benchmark --profile $(PROFILE)

# The prepared device check (tooling/gpu_check.py): regimes and M1 methods at the paper size, and one
# paper-profile sine run trained and measured on the GPU. JSON under results/bench/gpu.
gpu-check: $(BIN)/.installed
	$(BIN)/python -m tooling.gpu_check --out results/bench/gpu

# Where a training step's time goes (pyinstrument call tree of the regime benchmark's steps).
profile-step: $(BIN)/.installed
	$(BIN)/pyinstrument -m tooling.benchmark --profile $(PROFILE) --only regimes --rounds 2 --steps 5 --out-dir results/bench/profile
