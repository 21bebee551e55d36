# tfxkit: `make demo` runs a template end to end; `make test` runs the tests.
# Both set up what they need (.venv with Python 3.11 from the committed lock file).

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
UV_VERSION := 0.13.9
# The stack .venv gets (issue 14), by the host's glibc unless STACK is given:
#   tfx116: TFX 1.16 / TF 2.16, Python 3.11 (or 3.10), requirements/lock.txt; hosts with
#           glibc < 2.39 (Debian 12, Ubuntu 22.04), where pip stops at TFX 1.16;
#   tfx121: TFX 1.21 / TF 2.21, Python 3.13 (or 3.12), requirements/lock-tfx121.txt; hosts
#           with glibc >= 2.39 (Debian 13, Ubuntu 24.04): ml-metadata and TFDV for TFX 1.17+
#           exist only as manylinux_2_39 wheels.
# `make print-stack` says what was chosen and why. On a glibc 2.36 host the TFX 1.21 stack
# runs in a Debian 13 chroot instead (make test-tfx121, below).
GLIBC ?= $(shell getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2)
glibc_at_least = $(shell v="$(GLIBC)"; [ -n "$$v" ] && printf '%s\n%s\n' "$(1)" "$$v" | sort -C -V && echo yes)
STACK ?= $(if $(call glibc_at_least,2.39),tfx121,tfx116)
ifeq ($(filter tfx116 tfx121,$(STACK)),)
$(error STACK=$(STACK): tfx116 (TFX 1.16) or tfx121 (TFX 1.21))
endif
ifeq ($(STACK),tfx121)
LOCK := requirements/lock-tfx121.txt
LOCK_IN := requirements/tfx121.in
STACK_PYTHONS := 3.13 3.12
else
LOCK := requirements/lock.txt
LOCK_IN := requirements/base.in
STACK_PYTHONS := 3.11 3.10
endif
# Python for .venv: the stack's first (3.11 / 3.13) by default; `make setup PYTHON=3.10`
# builds it with 3.10 instead (TFX 1.16 declares Python < 3.11; tfxkit tests it on 3.11,
# and the lock serves both), PYTHON=3.12 on the tfx121 stack.
PYTHON ?= $(firstword $(STACK_PYTHONS))
# A $PYTHON in the environment that is no version of ours (another tool's path) is ignored.
ifeq ($(origin PYTHON),environment)
ifeq ($(filter $(STACK_PYTHONS),$(PYTHON)),)
override PYTHON := $(firstword $(STACK_PYTHONS))
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
PYTHON312 ?= $(call find_python,3.12)
PYTHON313 ?= $(call find_python,3.13)
VENV_PYTHON = $(PYTHON$(subst .,,$(PYTHON)))
# One stamp per stack and Python version: PYTHON=3.10 after a 3.11 .venv (or the reverse),
# or another stack, rebuilds it.
STAMP := $(VENV)/.installed-$(STACK)-py$(PYTHON)
# uv does not write .pyc files and PYTHONDONTWRITEBYTECODE=1 stops Python writing them on
# import: compile them at install, or every process compiles TensorFlow's sources again.
UV_INSTALL = $(VENV)/bin/uv pip install -q --compile-bytecode
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONWARNINGS := ignore::FutureWarning,ignore::DeprecationWarning

.NOTPARALLEL:  # benchmarks and test tiers each use both cores; never two at once
.PHONY: print-stack setup demo test test-unit test-integration test-e2e services bench bench-pipeline bench-ingest bench-inference bench-serving bench-bandit bench-fast-path bench-imports bench-health bench-stacks bench-scale bench-request-log bench-ui lock clean

setup: $(STAMP)

print-stack:
	@echo "stack $(STACK) python $(PYTHON) lock $(LOCK) glibc $(or $(GLIBC),unknown)" \
		"($(if $(filter command line environment,$(origin STACK)),STACK given,chosen by glibc $(if $(call glibc_at_least,2.39),>=,<) 2.39))"

$(STAMP): $(LOCK) setup.py components/common/_fastlog.c
	@case " $(STACK_PYTHONS) " in *" $(PYTHON) "*) ;; *) echo "PYTHON=$(PYTHON): the $(STACK) stack's .venv takes $(STACK_PYTHONS)" >&2; exit 1;; esac
	@[ -n "$(VENV_PYTHON)" ] || { echo "Python $(PYTHON) not found: install it (pyenv install $(PYTHON)) or set PYTHON$(subst .,,$(PYTHON))=/path/to/python$(PYTHON)" >&2; exit 1; }
	@echo "$(VENV): stack $(STACK) (TFX $(if $(filter tfx121,$(STACK)),1.21,1.16)), Python $(PYTHON), $(LOCK)"
	@$(PY) -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(PYTHON)"' 2>/dev/null || \
		{ rm -rf $(VENV); echo "$(VENV): Python $(PYTHON) ($(VENV_PYTHON))"; $(VENV_PYTHON) -m venv $(VENV); }
	@rm -f $(VENV)/.installed $(VENV)/.installed-*
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV_INSTALL) --python $(PY) -r $(LOCK)
	$(UV_INSTALL) --python $(PY) --no-deps -e .
	@touch $(STAMP)

# Re-resolve the stack's lock file from its .in: exact versions for every package, one file
# for both of the stack's Pythons (uv's universal resolution: where they differ, such as
# protobuf and kfp on tfx116, each pin carries a python_version marker). On a glibc 2.36
# host, the tfx121 lock is re-resolved inside the chroot: make tfx121-lock.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile $(LOCK_IN) --universal --python-version $(lastword $(STACK_PYTHONS)) -o $(LOCK)

# Airflow 3.3 in its own Python 3.11 environment (never TFX): the DAGs run tfxkit in .venv.
# tfxkit itself is installed there too, editable and without its dependencies: the DAG
# factory reads configs with tfxkit.pipelines.config (pydantic and pyyaml, both in the
# Airflow lock); its `tfxkit` script is removed (the CLI needs the TFX environment).
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_LOCK  := requirements/airflow-lock.txt
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-with-tfxkit
.PHONY: airflow-setup airflow-lock

airflow-setup: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): $(AIRFLOW_LOCK) setup.py | $(STAMP)
	@[ -n "$(PYTHON311)" ] || { echo "Python 3.11 not found: install it (pyenv install 3.11) or set PYTHON311=/path/to/python3.11" >&2; exit 1; }
	@$(AIRFLOW_VENV)/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null || \
		{ rm -rf $(AIRFLOW_VENV); $(PYTHON311) -m venv $(AIRFLOW_VENV); }
	$(VENV)/bin/uv pip sync -q --compile-bytecode --python $(AIRFLOW_VENV)/bin/python $(AIRFLOW_LOCK)
	$(VENV)/bin/uv pip install -q --compile-bytecode --python $(AIRFLOW_VENV)/bin/python --no-deps -e .
	@rm -f $(AIRFLOW_VENV)/bin/tfxkit $(AIRFLOW_VENV)/.installed
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

# The unit and integration tiers on the second stack (the services must answer, as for make test-unit;
# checked from inside, with the root's Python). Airflow stays the host's .venv-airflow
# (Python 3.11, never TFX): chroot.sh binds its interpreter in.
# Then the template pipelines (multiclass, regression, bandit), batch inference and the
# run reports, the monitoring loop, TFLite (transform: separate) and the dashboard in a
# browser end to end on TFX 1.21
# (what .ci/run adds after make test).
TFX121_E2E := "tests/e2e/test_templates.py::test_template_end_to_end[multiclass]" \
	"tests/e2e/test_templates.py::test_template_end_to_end[regression]" \
	tests/e2e/test_inference.py tests/e2e/test_report.py tests/e2e/test_canary.py \
	tests/e2e/test_bandit.py tests/e2e/test_monitoring_loop.py tests/e2e/test_tflite_separate.py \
	tests/e2e/test_ui.py
test-tfx121: tfx121-root airflow-setup
	$(TFX121) run python tests/services.py
	$(TFX121) run python -m pytest -q $(XDIST) --durations=10 tests/unit tests/integration
	$(TFX121) run python -m pytest -q $(XDIST) --durations=10 $(TFX121_E2E)

# The templates' transform tests and the e2e pipelines on the second stack (~15 min).
test-tfx121-e2e: tfx121-root airflow-setup
	$(TFX121) run python tests/services.py
	$(TFX121) run python -m pytest -q $(XDIST) --durations=10 templates tests/e2e

# Build infra/deploy/docker/Dockerfile (the TFX 1.21 stack) and run the template inside it; needs a
# Docker engine with BuildKit (DEVELOPERS.md); not part of make test.
.PHONY: image-check
image-check:
	infra/deploy/docker/check.sh

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
# Tiers: unit (tests/unit and the templates' tests: no process of its own, ~1-2 min),
# integration (tests/integration: real Airflow, servers, redis-servers, runners killed
# with -9), e2e (real pipelines). make test runs all four in one session.
test: setup airflow-setup browser-setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/unit tests/integration templates tests/e2e

test-unit: setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/unit templates

test-integration: setup airflow-setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/integration

test-e2e: setup airflow-setup browser-setup services
	$(TESTENV) $(PY) -m pytest -q $(XDIST) --durations=10 tests/e2e

# Benchmarks (tests/bench/harness.py): both sides in separate processes, alternating,
# >= 3 runs each; medians, spread and fixed costs; bench-results/NAME.json and .png.
# bench-inference trains the template once (untimed) under BENCH_WORK; bench-serving
# reuses that model when it is there.
BENCH_WORK ?= .bench-work
bench: bench-ingest bench-inference bench-serving bench-bandit bench-health bench-pipeline bench-fast-path bench-imports bench-scale bench-request-log
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

# A bandit's stored recommendations (12 ranked recommenders per user) read by user id at
# 200 requests/s, SQLite and Redis: p99 against the 10 ms target (bench-results/bandit-reads.json).
bench-bandit: setup
	$(PY) tests/bench/bench_serving.py --parts bandit --name bandit-reads

# A tfxkit run with nothing changed: the fast path (tfxkit run) vs every component cached
# (tfxkit run --force), alternating; target <= 3 s wall (bench-results/fast-path.json).
bench-fast-path: setup
	$(PY) tests/bench/bench_fast_path.py

# What the commands that need TensorFlow import (run, predict, report, serve: python -X
# importtime, the real command stopped at its first component or model load), and that
# validate and a no-change run import none; target <= 8 s each (bench-results/imports.json).
bench-imports: setup
	$(PY) tests/bench/bench_imports.py --work $(BENCH_WORK)/imports

# /health/live p99 under load, alone and beside a 50 MB /predict and a SIGSTOPped Redis;
# the before side is a git worktree of bb8fe4c (made when missing).
# Scale (issue 18.4): the ETA template on generated data, 10k..3M rows, vs a hand-written stock
# TFX pipeline up to 300k; per-component wall and peak RSS (bench-results/scale.json, .png).
# SCALE_ARGS, e.g. "--sizes 10k,100k --runs 1" for a quick look (not a figure).
SCALE_ARGS ?= --runs 3 --runs-at 1M=1,3M=1
bench-scale: setup
	$(PY) tests/bench/bench_scale.py --work $(BENCH_WORK)/scale $(SCALE_ARGS)

# POST /predict at 200 requests/s (open loop), the request log off vs on (sample_rate 1.0),
# separate server processes, off on on off off on; target: p99 on - off <= 1 ms
# (bench-results/request-log.json).
bench-request-log: setup
	$(PY) tests/bench/bench_request_log.py --work $(BENCH_WORK)/request-log

# tfxkit ui's pages on a use case with 200 runs written into MLMD: median server time per
# page, target < 1 s (bench-results/ui-pages.json).
bench-ui: setup
	$(PY) tests/bench/bench_ui.py

bench-health: setup
	$(PY) tests/bench/bench_health.py --work $(BENCH_WORK)/health

# The template's cold run on Python 3.10, 3.11 (TFX 1.16) and in the TFX 1.21 chroot.
bench-stacks: setup tfx121-root
	$(MAKE) setup PYTHON=3.10 VENV=.venv310
	$(PY) tests/bench/bench_stacks.py

clean:
	rm -rf templates/*/.tfxkit templates/*/models
