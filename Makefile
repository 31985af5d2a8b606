# Every install and build step of the project lives here (CI calls these through .ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv run-deps lock proto test-fast lint lint-proto test demo bench chaos mutants fuzz clean

# Every install comes from uv.lock (hashes of every file, one universal resolution for
# Linux/macOS, x86_64/aarch64, Python 3.11+). uv itself is bootstrapped into the venv at
# the version the lock holds; nothing else is taken from the index unpinned.
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
UV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(BIN)/uv

# The development venv: the server with every extra and the dev group (tests, linters).
$(BIN)/reservation: pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-extras --quiet
	touch $@

venv: $(BIN)/reservation

# Regenerate reservation/v1 from protos/ (generated code is committed and never edited).
proto: venv
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. \
	    --pyi_out=. protos/reservation/v1/*.proto

# ruff (rules: pyproject's [tool.ruff], a pinned ruff) and mypy (reservation/); CI runs it.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

lint-proto: venv
	cd protos && ../$(BIN)/buf lint

# The runtime set alone (what the image installs: the server and its otel extra), in
# .venv-run: to run the service without the development tools, or to see its size.
run-deps:
	$(PYTHON) -m venv .venv-run
	.venv-run/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=.venv-run UV_PYTHON_DOWNLOADS=never .venv-run/bin/uv sync \
	    --frozen --no-dev --extra otel --no-editable --quiet

# Re-resolve every dependency to the newest release its bounds in pyproject.toml allow
# and rewrite uv.lock; commit the result once make test passes on it.
lock: venv
	$(UV) lock --upgrade

# Both test targets run on every core (pytest-xdist, one worker per core, each with its
# own redis-server and servers; a test file stays on one worker, so its module fixtures
# are built once): on this 2-core box the whole suite took 4:19 instead of about 7 min.
PYTEST := $(BIN)/pytest -q -n auto --dist loadfile

# The whole suite (what CI runs). `make test ARGS=--lf` re-runs what failed last time.
test: venv
	$(PYTEST) $(ARGS)

# The inner loop: every test no tier marks (no real processes, kills, Cluster, PostgreSQL,
# browser, fuzzing or models; see tests/conftest.py), with the time it took.
FAST := not (slow or chaos or fuzz or browser or cluster or postgres or model)
test-fast: venv
	@start=$$(date +%s); $(PYTEST) -m "$(FAST)" $(ARGS); code=$$?; \
	echo "make test-fast: $$(( $$(date +%s) - start )) s"; exit $$code

demo: venv
	$(BIN)/reservation demo

bench: venv
	$(BIN)/python -m benchmarks.run

# Seeded fault schedules against real replicas and Redis (AOF always); writes
# benchmarks/results/chaos.md and fails on any violated guarantee.
# Fuzzed requests against every RPC (tests/fuzz): a longer, randomised run than the
# fixed-seed slice in `make test`. FUZZ_EXAMPLES per RPC and kind (generated, raw bytes).
fuzz: venv
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} FUZZ_RANDOM=1 FUZZ_REPORT=1 $(BIN)/pytest -q -s tests/fuzz

chaos: venv
	$(BIN)/python -m benchmarks.chaos --seeds 1 2 3 --faults 20

# Each mutants/*.toml breaks one invariant on a copy of the repo; its named tests must
# fail. Report: benchmarks/results/mutants.md; exit 1 when a mutant survives.
mutants: venv
	$(BIN)/python mutants/run.py

clean:
	rm -rf $(VENV) .venv-run .pytest_cache
