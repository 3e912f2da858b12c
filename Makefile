# Two entry points on a fresh machine with only Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-deps bench-scale bench-scale-production schema lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/points demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The contract tests' Node judges (ajv, @asyncapi/parser) and the TypeScript producer example.
NODE_STAMPS := tests/contract/node/node_modules/.installed examples/typescript-producer/node_modules/.installed

%/node_modules/.installed: %/package.json %/package-lock.json
	npm ci --prefix $* --no-audit --no-fund
	touch $@

pytest: $(STAMP) $(NODE_STAMPS)
	$(BIN)/pytest $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
FAUXQS      := benchmarks/fauxqs/node_modules/.installed

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# The SNS/SQS emulator (npm package fauxqs, pinned by the lock file), Node.js 20+.
$(FAUXQS): benchmarks/fauxqs/package.json benchmarks/fauxqs/package-lock.json
	npm ci --prefix benchmarks/fauxqs --no-audit --no-fund
	touch $(FAUXQS)

# What the benchmarks need beyond `make test` (.ci/run installs it: the smoke tests run them).
bench-deps: $(BENCH_STAMP) $(FAUXQS)

bench: bench-deps
	@$(BIN)/python -m benchmarks.run

# Issue #16: a PostgreSQL ledger grown to 5 M events, then verify, queries and a hot
# account (benchmarks/scale.py -> benchmarks/scale.json). It states its expected duration
# when it starts; SCALE_ARGS="--events 100000" for a short run.
bench-scale: $(STAMP)
	@$(BIN)/python -m benchmarks.scale $(SCALE_ARGS)

# The same on a private PostgreSQL configured as a ledger's server would be (a quarter of
# RAM as shared_buffers, autovacuum on; benchmarks/scale_server.py), on port 5433, stopped
# and removed afterwards, also after Ctrl-C -> benchmarks/scale-production.json.
bench-scale-production: $(STAMP)
	@trap '$(BIN)/python -m benchmarks.scale_server stop' EXIT; trap 'exit 130' INT TERM; \
	url=$$($(BIN)/python -m benchmarks.scale_server start) || exit 1; \
	$(BIN)/python -m benchmarks.scale --server "$$url" \
		--output benchmarks/scale-production.json $(SCALE_ARGS)

schema: $(STAMP)
	$(BIN)/points schemas export --out schemas/payment-event.v1.schema.json
	$(BIN)/points schemas export --asyncapi --out schemas/payment-events.asyncapi.json

# The worker image's lock: resolve points-pipeline[ops] in a fresh venv and pin all of it.
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet '.[ops]'
	{ sed -n '1,3p' requirements/worker.lock; \
	  build/lock-venv/bin/python -m pip freeze --exclude points-pipeline; } > requirements/worker.lock.new
	mv requirements/worker.lock.new requirements/worker.lock

clean:
	rm -rf $(VENV) build *.egg-info
