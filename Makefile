# The two set-up commands of the README are `make demo` and `make test`; both create the
# virtual environment first. Everything else here is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DATE ?= 2026-11-02
DEMO_START ?= 2026-08-01
DEMO_DAYS ?= 93

.PHONY: venv venv-dev demo test test-e2e test-fast lint fmt bench bench-nightly lock clean chromium screenshots

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "keqing needs Python 3.11, this is " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The development tools and test libraries on top (requirements-dev.lock): test, lint, bench.
venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

demo: venv
	rm -rf data/demo out/demo
	KEQING_INBOX=data/demo/inbox $(BIN)/keqing generate --scale small --out data/demo/inbox --start $(DEMO_START) --days $(DEMO_DAYS)
	KEQING_INBOX=data/demo/inbox KEQING_DATABASE_URL=sqlite:///data/demo/edges.db KEQING_OUTBOX=out/demo/outbox \
		$(BIN)/keqing run --date $(DEMO_DATE)
	@echo
	@echo "Inbox:    data/demo/inbox"
	@echo "Database: data/demo/edges.db (SQLite)"
	@echo "Emails:   out/demo/outbox/$(DEMO_DATE)/"

# `make test` is the README's test command; the whole-process cases (marker e2e: faults, Prefect
# workers, the bad-input corpus, the privacy sweep) run in `make test-e2e`, which .ci/run runs too.
test: venv-dev
	$(BIN)/pytest -n 2 --dist loadgroup -m "not e2e" $(PYTEST_ARGS)

test-e2e: venv-dev
	$(BIN)/pytest -n 2 --dist loadgroup -m e2e $(PYTEST_ARGS)

test-fast: venv-dev
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow and not e2e" $(PYTEST_ARGS)

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# One script per stage, each times its pure computation at the issue's scale (see docs/<stage>.md).
bench: venv-dev
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/supply.py --scale large
	$(BIN)/python bench/loyalty.py --db sqlite
	$(BIN)/python bench/emails.py --emails 2000
	$(BIN)/python bench/views.py

# The end-to-end benchmark (bench/run.py): a scale's history loaded once, then one night timed per
# stage on SQLite and PostgreSQL, against the floor and a pandas peer; results in bench/results/.
# Needs PostgreSQL (KEQING_BENCH_POSTGRES_URL, default postgres@127.0.0.1:5432) for --db postgres.
SCALE ?= medium
BENCH_ARGS ?=
bench-nightly: venv-dev
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/run.py --scale $(SCALE) $(BENCH_ARGS)

# Re-pins both locks from this environment: the names listed in requirements-dev.lock stay there, the
# rest is the runtime lock (a new development package goes into requirements-dev.lock by name first).
lock: venv-dev
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > $(VENV)/freeze.txt
	$(BIN)/python -c 'import re, sys; \
	name = lambda line: re.split("[=<> ]", line)[0].lower().replace("_", "-"); \
	freeze = open("$(VENV)/freeze.txt").read().splitlines(); \
	dev_text = open("requirements-dev.lock").read().splitlines(); \
	dev = {name(l) for l in dev_text if l and l[0] not in "#-"}; \
	head = lambda text: [l for l in text if l.startswith("#") or l.startswith("-r")]; \
	rt_text = open("requirements.lock").read().splitlines(); \
	open("requirements.lock", "w").write("\n".join(head(rt_text) + [l for l in freeze if name(l) not in dev]) + "\n"); \
	open("requirements-dev.lock", "w").write("\n".join(head(dev_text) + [l for l in freeze if name(l) in dev]) + "\n")'

# Debian, as root: headless Chromium and a CJK font, for the email screenshots (`make screenshots`)
# and the slow phone-width and screenshot tests (skipped without Chromium, except in CI: .ci/run runs
# this target when Chromium or the font is missing).
chromium:
	apt-get update && apt-get install -y chromium fonts-noto-cjk

screenshots: venv
	$(BIN)/python -m reports.screenshot --out out/screenshots --kinds rep callback home_visit manager ops

clean:
	rm -rf $(VENV) data/demo out/demo .pytest_cache
