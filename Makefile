# tfxkit: `make demo` runs a template end to end; `make test` runs the tests.
# Both set up what they need (.venv with Python 3.11 from the committed lock file).

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
LOCK  := requirements/lock.txt
UV_VERSION := 0.13.9
# Python for .venv: 3.11 by default; `make setup PYTHON=3.10` builds it with 3.10 instead
# (TFX 1.16 declares Python < 3.11; tfxkit tests it on 3.11, and the lock serves both).
PYTHON ?= 3.11
# A $PYTHON in the environment that is no version of ours (another tool's path) is ignored.
ifeq ($(origin PYTHON),environment)
ifeq ($(filter 3.10 3.11,$(PYTHON)),)
override PYTHON := 3.11
endif
endif
# Python X.Y: PYTHONXY if set, else pyenv's X.Y.*, else /usr(/local)/bin, else PATH.
find_python = $(shell for p in "$$(pyenv root 2>/dev/null)"/versions/$(1).*/bin/python$(1) \
	"$$HOME"/.pyenv/versions/$(1).*/bin/python$(1) /usr/bin/python$(1) /usr/local/bin/python$(1) \
	"$$(command -v python$(1))" "$$(command -v python3)"; do \
	[ -x "$$p" ] && "$$p" -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(1)"' 2>/dev/null && { echo "$$p"; break; }; \
	done)
PYTHON310 ?= $(call find_python,3.10)
PYTHON311 ?= $(call find_python,3.11)
VENV_PYTHON = $(PYTHON$(subst .,,$(PYTHON)))
# One stamp per Python version: PYTHON=3.10 after a 3.11 .venv (or the reverse) rebuilds it.
STAMP := $(VENV)/.installed-py$(PYTHON)
# uv does not write .pyc files and PYTHONDONTWRITEBYTECODE=1 stops Python writing them on
# import: compile them at install, or every process compiles TensorFlow's sources again.
UV_INSTALL = $(VENV)/bin/uv pip install -q --compile-bytecode
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::FutureWarning,ignore::DeprecationWarning

.NOTPARALLEL:  # benchmarks and test tiers each use both cores; never two at once
.PHONY: setup demo test test-unit test-e2e services bench bench-pipeline bench-ingest bench-inference bench-serving bench-health bench-stacks lock clean

setup: $(STAMP)

$(STAMP): $(LOCK) setup.py components/batch_inference/_fastlog.c
	@case "$(PYTHON)" in 3.10|3.11) ;; *) echo "PYTHON=$(PYTHON): tfxkit's .venv takes 3.11 (the default) or 3.10" >&2; exit 1;; esac
	@[ -n "$(VENV_PYTHON)" ] || { echo "Python $(PYTHON) not found: install it (pyenv install $(PYTHON)) or set PYTHON$(subst .,,$(PYTHON))=/path/to/python$(PYTHON)" >&2; exit 1; }
	@$(PY) -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(PYTHON)"' 2>/dev/null || \
		{ rm -rf $(VENV); echo "$(VENV): Python $(PYTHON) ($(VENV_PYTHON))"; $(VENV_PYTHON) -m venv $(VENV); }
	@rm -f $(VENV)/.installed $(VENV)/.installed-py*
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV_INSTALL) --python $(PY) -r $(LOCK)
	$(UV_INSTALL) --python $(PY) --no-deps -e .
	@touch $(STAMP)

# Re-resolve the lock file from requirements/base.in: exact versions for every package, one
# file for Python 3.10 and 3.11 (uv's universal resolution: where the two differ, such as
# protobuf and kfp, each pin carries a python_version marker).
lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements/base.in --universal --python-version 3.10 -o $(LOCK)

# Airflow 3.3 in its own Python 3.11 environment (never TFX): the DAGs run tfxkit in .venv.
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_LOCK  := requirements/airflow-lock.txt
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
.PHONY: airflow-setup airflow-lock

airflow-setup: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): $(AIRFLOW_LOCK) | $(STAMP)
	@[ -n "$(PYTHON311)" ] || { echo "Python 3.11 not found: install it (pyenv install 3.11) or set PYTHON311=/path/to/python3.11" >&2; exit 1; }
	@$(AIRFLOW_VENV)/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null || \
		{ rm -rf $(AIRFLOW_VENV); $(PYTHON311) -m venv $(AIRFLOW_VENV); }
	$(VENV)/bin/uv pip sync -q --compile-bytecode --python $(AIRFLOW_VENV)/bin/python $(AIRFLOW_LOCK)
	@touch $(AIRFLOW_STAMP)

# Re-resolve requirements/airflow-lock.txt from requirements/airflow.in.
airflow-lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements/airflow.in --python-version 3.11 -o $(AIRFLOW_LOCK)

# The second stack (issue 14): TFX 1.21 / Python 3.13 / TF 2.21 in a Debian 13 root built
# with debootstrap under TFX121_DIR and entered with chroot (root only; infra/tfx121/chroot.sh).
# tfx121-root builds it once (debootstrap, CA certificates, /opt/venv from the lock, bytecode
# compiled, tfxkit editable); a second call takes seconds.
TFX121_DIR ?= $(CURDIR)/.tfx121
TFX121 := TFX121_DIR=$(TFX121_DIR) infra/tfx121/chroot.sh
.PHONY: tfx121-root tfx121-lock tfx121-shell test-tfx121 test-tfx121-e2e

tfx121-root:
	$(TFX121) root

# Re-resolve requirements/lock-tfx121.txt from requirements/tfx121.in, inside the root.
tfx121-lock:
	$(TFX121) lock

tfx121-shell: tfx121-root
	$(TFX121) shell

# The unit tier on the second stack (the services must answer, as for make test-unit;
# checked from inside, with the root's Python). Airflow stays the host's .venv-airflow
# (Python 3.11, never TFX): chroot.sh binds its interpreter in.
# Then the template pipelines (multiclass, regression), batch inference and the run
# reports end to end on TFX 1.21 (what .ci/run adds after make test).
TFX121_E2E := "tests/e2e/test_templates.py::test_template_end_to_end[multiclass]" \
	"tests/e2e/test_templates.py::test_template_end_to_end[regression]" \
	tests/e2e/test_inference.py tests/e2e/test_report.py
test-tfx121: tfx121-root airflow-setup
	$(TFX121) run python tests/services.py
	$(TFX121) run python -m pytest -q $(XDIST) --durations=10 tests/unit
	$(TFX121) run python -m pytest -q $(XDIST) --durations=10 $(TFX121_E2E)

# The templates' transform tests and the e2e pipelines on the second stack (~15 min).
test-tfx121-e2e: tfx121-root airflow-setup
	$(TFX121) run python tests/services.py
	$(TFX121) run python -m pytest -q $(XDIST) --durations=10 templates tests/e2e

# Headless Chromium for the run-report tests (Debian packages chromium, chromium-driver).
.PHONY: browser-setup
browser-setup:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; }

demo: setup
	$(VENV)/bin/tfxkit run templates/multiclass/config.yaml

# The tests use PostgreSQL, MariaDB and Redis at their loopback ports: one clear line and
# a stop when one does not answer (tests/services.py), never a silent skip.
services: setup
	@$(PY) tests/services.py

# Every tier on both cores (pytest-xdist; --dist loadfile keeps a module's tests, and the
# runs they share, on one worker); the ten slowest tests are printed at the end.
XDIST := -n 2 --dist loadfile
# pytest.ini decides which warnings are ignored (named third-party ones only): the
# PYTHONWARNINGS exported above for the CLI would ignore whole categories in the tests.
TESTENV := env -u PYTHONWARNINGS
test: setup airflow-setup browser-setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/unit templates tests/e2e

test-unit: setup airflow-setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/unit templates

test-e2e: setup airflow-setup browser-setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/e2e

# Benchmarks (tests/bench/harness.py): both sides in separate processes, alternating,
# >= 3 runs each; medians, spread and fixed costs; bench-results/NAME.json and .png.
# bench-inference trains the template once (untimed) under BENCH_WORK; bench-serving
# reuses that model when it is there.
BENCH_WORK ?= .bench-work
bench: bench-ingest bench-inference bench-serving bench-health bench-pipeline
	$(PY) tests/bench/summary.py

bench-pipeline: setup
	$(PY) tests/bench/bench_pipeline.py

bench-ingest: setup
	$(PY) tests/bench/bench_example_gen.py

bench-inference: setup
	$(PY) tests/bench/bench_inference.py --work $(BENCH_WORK)/inference

bench-serving: setup
	@m=$$(ls -d $(BENCH_WORK)/inference/multiclass/models/[0-9]* 2>/dev/null | tail -1); \
	echo "$(PY) tests/bench/bench_serving.py $${m:+--model $$m}"; \
	$(PY) tests/bench/bench_serving.py $${m:+--model $$m}

# /health/live p99 under load, alone and beside a 50 MB /predict and a SIGSTOPped Redis;
# the before side is a git worktree of bb8fe4c (made when missing).
bench-health: setup
	$(PY) tests/bench/bench_health.py --work $(BENCH_WORK)/health

# The template's cold run on Python 3.10, 3.11 (TFX 1.16) and in the TFX 1.21 chroot.
bench-stacks: setup tfx121-root
	$(MAKE) setup PYTHON=3.10 VENV=.venv310
	$(PY) tests/bench/bench_stacks.py

clean:
	rm -rf templates/*/.tfxkit templates/*/models
