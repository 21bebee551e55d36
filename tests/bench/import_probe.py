"""One real ``tfxkit`` command, stopped where its start-up ends: the child process of
``bench_imports.py`` (run it as ``python -X importtime import_probe.py ARGS...``, ARGS as
for ``tfxkit``) and of the import tests.

The command is the real CLI (``tfxkit.infra.cli.main``), so what it imports is what its
code path imports, never a list that could drift. It runs until one of ``STOPS`` is
called, then the process ends at once (``os._exit``), before that call does anything:

- ``tfx.orchestration.portable.launcher.Launcher.launch``: the first component's launch
  (``tfxkit run``, ``tfxkit predict``): the local runner, the pipeline factory, the
  compiler and the launcher are imported by then, no component has run;
- ``tensorflow.python.saved_model.load.load``: the SavedModel load (``tfxkit serve``: the
  server is up and TensorFlow imported, the model not yet read).

A command that reaches none of them (``report``, ``validate``, a no-change ``run``) runs
to its end. Either way the probe prints ``BEGIN`` to stderr before the command's first
import and ``END`` when it stops (so ``-X importtime``'s lines between the two are the
command's imports, the interpreter's start-up excluded), then one line ``BENCH_RESULT
{json}`` on stdout (``tests/bench/harness.py``'s format): the phase ``command`` (from
this module's start to the stop), where it stopped, the exit status, and which of
``WATCH`` were imported.

Nothing but ``os``, ``sys`` and ``time`` (loaded with the interpreter) is imported here
before ``BEGIN``: the probe adds no import of its own to the command's.
"""
import os
import sys
import time

STARTED = time.time()
MARK = "BENCH_RESULT "
# set to 1: the command's lazy_imports.startup does nothing (the reference the benchmark
# compares with; tfxkit.pipelines.lazy_imports is then imported before BEGIN)
EAGER = "TFXKIT_PROBE_EAGER"
BEGIN = "-- import probe: the command's imports from here --"
END = "-- import probe: stopped --"
# (module, attribute of it) -> where the command stops when it is called
STOPS = {
    "tfx.orchestration.portable.launcher": "Launcher.launch",
    "tensorflow.python.saved_model.load": "load",
}
STOP_NAMES = {"tfx.orchestration.portable.launcher": "first component launch",
              "tensorflow.python.saved_model.load": "model load"}
# module prefixes reported when imported (a prefix ending in "_" or "." matches any name
# that starts with it: tfx.extensions.google_cloud_big_query, ..._ai_platform; the
# google.cloud namespace package itself is made by a .pth file at start-up, its modules
# are imports)
WATCH = ("tensorflow", "tfx", "tfx.v1", "tfx.extensions.google_cloud_", "google.cloud.",
         "apache_beam", "apache_beam.io.gcp", "apache_beam.io.gcp.bigquery",
         "apache_beam.io.gcp.pubsub", "google.cloud.bigquery", "google.cloud.pubsub",
         "tensorflow_model_analysis",
         "tensorflow_transform", "tensorflow_data_validation", "keras_tuner", "kubernetes",
         "kfp")


def loaded(prefixes=WATCH, modules=None):
    """The ``prefixes`` that name a module in ``modules`` (default ``sys.modules``)."""
    names = list(sys.modules if modules is None else modules)
    out = []
    for p in prefixes:
        if p.endswith(("_", ".")):
            hit = any(n.startswith(p) for n in names)
        else:
            hit = any(n == p or n.startswith(p + ".") for n in names)
        if hit:
            out.append(p)
    return out


def stop(where, exit_status=None):
    """Ends the process now, printing the result line (imports after ``END`` are not the
    command's)."""
    t = time.time()
    sys.stderr.write("\n" + END + "\n")
    sys.stderr.flush()
    watched = loaded()
    import json

    sys.stdout.write(MARK + json.dumps({
        "started": STARTED, "phases": {"command": t - STARTED}, "stopped_at": where,
        "exit_status": exit_status, "loaded": watched}) + "\n")
    sys.stdout.flush()
    os._exit(0)


class _Stopper:
    """A loader around the real one: once the module is executed, its ``STOPS`` attribute
    is replaced by a function that stops the process."""

    def __init__(self, loader, name):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        *owner_path, attr = STOPS[self._name].split(".")
        owner = module
        for part in owner_path:
            owner = getattr(owner, part)
        where = STOP_NAMES[self._name]

        def stopped(*args, **kwargs):
            stop(where)

        setattr(owner, attr, stopped)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _StopFinder:
    """First on ``sys.meta_path``: asked only for modules not imported yet; wraps the
    loader of the ``STOPS`` modules."""

    def find_spec(self, name, path=None, target=None):
        if name not in STOPS:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Stopper(spec.loader, name)
                return spec
        return None


def main(argv):
    if os.environ.get(EAGER) == "1":  # the reference: as before lazy_imports (bench only)
        from tfxkit.pipelines import lazy_imports

        lazy_imports.startup = lambda cfg=None: {}
    sys.meta_path.insert(0, _StopFinder())
    sys.stderr.write(BEGIN + "\n")
    sys.stderr.flush()
    from tfxkit.infra.cli import main as cli

    try:
        cli(argv, prog_name="tfxkit", standalone_mode=False)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    stop("end of the command", code)


if __name__ == "__main__":
    main(sys.argv[1:])
