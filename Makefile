# nn-course: every target sets up what it needs itself.
#   make lab      set up and open the course in JupyterLab
#   make test     set up and run every test
#   make test-fast  the pure-Python tests only (no kernel, nbgrader or browser): under a minute
#   make demo     set up and open the course's widgets for a lecture (Voilà)
#   make bench    set up and run the training benchmark
#   make bench-grade  set up and time grading a class: nncourse against plain nbgrader
#   make release  regenerate notebooks/ (student release) from solutions/

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed

# Test processes (pytest-xdist, --dist loadfile). Each file's tests run in one process, and
# files that share a fixture built once per session form one group (tests/conftest.py,
# GROUPS); the longest groups start first (LONGEST_FIRST), so that the processes end together.
TEST_WORKERS ?= 2

# Tools run from the virtual environment, and so do the kernels they start.
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv lab demo test test-fast bench bench-grade release lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Jupyter refuses to run as root unless told; containers often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG) $(LAB_ARGS)

# The finished course's widgets for a lecture, in Voilà: no code, large type, the presets
# of course_lib/presenter.py. NO_BROWSER=1 only serves; DEMO_PORT picks the port. Voilà
# reads demos/voila.json from its working folder and finds the presenter template through
# JUPYTER_PATH.
DEMO_PORT ?= 8866

demo: $(STAMP)
	cd demos && JUPYTER_PATH="$(CURDIR)/demos/share/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH}" \
		$(BIN)/voila --port=$(DEMO_PORT) $(if $(NO_BROWSER),--no-browser) $(DEMO_ARGS)

# System programs some tests need, from Debian's packages: the grading sandbox
# (course_lib/grading/sandbox.py) runs kernels in bubblewrap; the browser tests drive
# Debian's Chromium (never a browser Playwright downloads). As root they are installed;
# otherwise the command to install them is printed.
SYSTEM_DEPS := /usr/bin/bwrap:bubblewrap /usr/bin/chromium:chromium

.PHONY: system-deps
system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
		test -x "$${dep%%:*}" || missing="$$missing $${dep##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get install -y $$missing || (apt-get update && apt-get install -y $$missing); \
		else \
			echo "Some tests need:$$missing. Run  sudo apt-get install -y$$missing" >&2; \
			exit 1; \
		fi; \
	fi

test: $(STAMP) system-deps
	$(BIN)/ruff check course_lib tests bench
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--durations=15 $(PYTEST_ARGS)

# The pure-Python tiers only (the math, the checks and their hints, the course's
# consistency): no kernel, no nbgrader, no browser; under a minute.
test-fast: $(STAMP)
	$(BIN)/ruff check course_lib tests bench
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
		-m "not kernel and not grading and not browser and not env" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench_train.py

bench-grade: $(STAMP)
	$(BIN)/python bench/bench_grade.py

# nncourse release: refuses a test cell the grader could not grade, then runs nbgrader
release: $(STAMP)
	$(BIN)/nncourse release

lint: $(STAMP)
	$(BIN)/ruff check course_lib tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
