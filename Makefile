# segflow: `make run` starts the embedded stack, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean i18n

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel
	$(BIN)/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/segflow dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# lint and pytest both run; the target fails if either failed (pytest's summary line is the
# last thing printed)
test: $(STAMP)
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(BIN)/pytest -q -p no:cacheprovider || status=1; \
	exit $$status

# page strings -> gettext catalogues: new strings become empty entries to translate
i18n: $(STAMP)
	$(BIN)/python -m api.web.i18n_catalogue

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var build *.egg-info
