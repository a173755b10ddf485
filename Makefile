# mynasign: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest bench system-deps clean screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

system-deps:
	scripts/install-debian-packages

## run: the main job on embedded defaults
run: system-deps $(STAMP)
	$(VENV)/bin/mynasign dev

## test: install what is missing (Debian packages included), then ruff, mypy and every test
test: system-deps $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## bench: benchmarks, printed as ratios against a baseline measured in the same run
bench: system-deps $(STAMP)
	$(PY) -m benchmarks

## screenshots: the companion app's screens at phone and desktop size (Qt offscreen) into docs/companion/
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen TOGA_BACKEND=toga_qt $(PY) scripts/companion_screenshots.py shots --out docs/companion

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
