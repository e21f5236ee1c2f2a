# netcheck: `make verify` checks the flagship spec, `make test` runs the test suite.
# Both create the local virtual environment (.venv) first when needed: `make verify` installs netcheck with
# its runtime dependencies only, the development targets (test, lint) add the dev extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOURCES := $(sort $(wildcard api/*.py model/*.py model/*/*.py model/*/*.c model/*/*.h checker/*.py checker/*/*.py checker/*/*.c))
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# quiet pip, without setuptools' notes about the editable install (the one reinstall rule below)
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install install-dev verify test test-slow bench bench-proofs lint clean golden tutorial schema

install: $(STAMP)

install-dev: $(DEV_STAMP)

# The modules the install compiles with Cython (setup.py's COMPILED, in the same order).
COMPILED := model/semantics/runtime.py model/semantics/evaluate.py model/semantics/system.py \
	model/semantics/memo.py checker/engine/bfs.py checker/engine/stuck.py checker/engine/verdicts.py

# Reinstall when pyproject.toml or setup.py changes, a module is added or removed (the strict editable
# install links files one by one, so new modules need a new install), or a compiled module's source changes
# (until then netcheck runs that source: netcheck/_compiled.py).
INSTALL_DEPS := pyproject.toml setup.py $(VENV)/.sources $(wildcard model/*/*.c model/*/*.h checker/*/*.c) $(COMPILED)

$(STAMP): $(INSTALL_DEPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e . --config-settings editable_mode=strict
	touch $(STAMP)

# The dev extras (pytest, ruff, mypy, schemas) installed with netcheck itself, in one build (which is also
# the runtime install).
$(DEV_STAMP): $(INSTALL_DEPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]' --config-settings editable_mode=strict
	touch $(STAMP) $(DEV_STAMP)

$(VENV)/.sources: FORCE
	@mkdir -p $(VENV)
	@echo "$(SOURCES)" | cmp -s - $@ || echo "$(SOURCES)" > $@

FORCE:

verify: install
	$(BIN)/netcheck verify specs/net_sem.yaml

# one worker per core (pytest-xdist); a test file stays on one worker, so its module fixtures and the fuzz
# summary at its end see the whole file
test: install-dev
	$(BIN)/python -m pytest -n auto --dist loadfile

test-slow: install-dev
	NETCHECK_SLOW=1 $(BIN)/python -m pytest -m slow

# Regenerate tests/golden/* (every output format on the flagship spec and one bug), docs/tutorial.md and docs/proofs.md
# (every command output in them, from scripts/tutorial.md.in and scripts/proofs.md.in) and the diagnostic-code table of
# docs/spec-language.md (from model/codes.py): tests/test_outputs.py and tests/test_codes.py fail until
# these match the code.
golden: install
	$(BIN)/python scripts/golden.py
	$(BIN)/python scripts/tutorial.py
	$(BIN)/python scripts/codes.py

# The JSON Schema of the spec format (schema/), generated from the parser's tables: tests/test_schema.py
# fails until the published file matches the code.
schema: install
	$(BIN)/netcheck schema -o schema/netcheck-spec.schema.json

tutorial: install
	$(BIN)/python scripts/tutorial.py

# the search on Ray workers (bench/workers.py) and the swarm hunt (bench/hunt.py) need the ray extra (in the
# dev extras)
bench: install-dev
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/workers.py
	$(BIN)/python bench/hunt.py

# The z3 engines on every shipped spec, one at a time, each run in a process of its own with a timeout
# (bench/proofs.py): the Markdown table of docs/results.md, and bench/proofs.jsonl.
bench-proofs: install
	$(BIN)/python bench/proofs.py --timeout 60

lint: install-dev
	$(BIN)/ruff check api model checker tests bench scripts
	$(BIN)/mypy api model checker

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find model checker \( -name "*.so" -o -name _compiled.json \) -delete
