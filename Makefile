# Every install and build step of the project lives here (CI calls these through .ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv proto lint lint-proto test demo bench chaos mutants fuzz clean

$(BIN)/reservation: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
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

test: venv
	$(BIN)/pytest -q

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
	rm -rf $(VENV) .pytest_cache
