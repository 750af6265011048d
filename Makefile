# The two commands a new user needs: `make demo` and `make test`. Both set up the environment first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# test processes at once (pytest-xdist): one per core; TEST_WORKERS=0 runs in this process
TEST_WORKERS ?= auto

.PHONY: setup demo test test-fast lint clean-setup

setup:
	@OVD_VENV=$(VENV) bash scripts/setup_env.sh

demo: setup
	@$(VENV)/bin/ovd demo

# The whole suite: unit tests and the slow integration tests (tiny training, real SLURM), one test process per
# core (the SLURM tests share one, tests/conftest.py). One BLAS/OpenMP thread per process: the integration tests
# run several training processes at once on few cores.
test: setup
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Unit tests only (about a minute and a half on 2 cores).
test-fast: setup
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow" $(PYTEST_ARGS)

lint: setup
	@$(VENV)/bin/ruff check ovd tests scripts benchmarks tools configs

clean-setup:
	rm -rf $(VENV)
