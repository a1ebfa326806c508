# specbound: `make demo` runs the main job, `make test` the whole suite.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
#: The bench extras (axelrod, Dask), installed once: pip's editable rebuild costs ~20-30 s a call.
BENCH_STAMP := $(VENV)/.installed-bench
PACKAGES := agents scenarios sim analysis cli specbound viz bench
# numpy's AVX-512 loops differ in the last bit from the others (agents/cpu_pin.py); set here
# too, because pytest's plugins may load numpy before the project's packages pin it.
export NPY_DISABLE_CPU_FEATURES ?= X86_V4 AVX512_ICL AVX512_SPR

.PHONY: demo test lint bench clean fuzz

$(STAMP): pyproject.toml
	@test -x $(PY) || { interp="$$(tools/find-python)" || exit 1; echo "creating $(VENV) with $$interp"; $$interp -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# An editable install compiles no bytecode (a wheel install does); with
	@# PYTHONDONTWRITEBYTECODE set, every command would recompile ~60 modules.
	$(PY) -m compileall -q $(PACKAGES) > /dev/null
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sim demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	@# Compile every kernel once (a no-op when marked warm): else both workers compile them.
	$(PY) -m sim warm --workers 2
	$(PY) -m pytest -n 2 -p no:cacheprovider

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) out .numba-cache

# A longer fuzz run than the one in `make test`: N cases per family (default 3000), seed S.
fuzz: $(STAMP)
	$(PY) -m tests.fuzz_cases $(or $(N),3000) $(or $(S),1)
