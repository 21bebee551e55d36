"""The no-change fast path of ``tfxkit run`` (infra/run/fast_path.py): every input that
decides a run changes the fingerprint (a same-size edit with the mtime restored
included); the newest completed training run with the same fingerprint makes a run
unnecessary, and then nothing heavy is imported."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tfxkit.infra.run import fast_path, state
from tfxkit.pipelines.config import load_config

CONFIG = textwrap.dedent("""\
    name: fp
    task: regression
    label: y
    data: {source: {csv: "data/*.csv"}}
    features: {dense: [a], module: prep.py}
    validation: {schema: schema.pbtxt}
    eval: {metrics: [{name: mae, upper_bound: 1}]}
    """)


@pytest.fixture
def case(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d1.csv").write_text("a,y\n1,2\n3,4\n")
    (tmp_path / "prep.py").write_text("def preprocessing_fn(inputs):\n    return inputs\n")
    (tmp_path / "schema.pbtxt").write_text("feature { name: 'a' }\n")
    (tmp_path / "config.yaml").write_text(CONFIG)
    return tmp_path


def fp(case, *sets):
    return fast_path.inputs_fingerprint(load_config(case / "config.yaml", overrides=list(sets)))


def test_every_input_changes_the_fingerprint(case, monkeypatch):
    base = fp(case)
    assert base.startswith("sha256:") and fp(case) == base  # stable
    data = case / "data" / "d1.csv"
    st = os.stat(data)
    data.write_text("a,y\n1,2\n3,5\n")  # same size, one byte
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime restored
    assert os.stat(data).st_size == st.st_size and os.stat(data).st_mtime_ns == st.st_mtime_ns
    changed = fp(case)
    assert changed != base
    (case / "data" / "d2.csv").write_text("a,y\n5,6\n")  # a new file the glob matches
    assert fp(case) not in (base, changed)
    (case / "data" / "d2.csv").unlink()
    assert fp(case) == changed
    assert fp(case, "model.epochs=3") != changed  # the effective config (--set, profiles)
    (case / "prep.py").write_text("def preprocessing_fn(inputs):\n    return dict(inputs)\n")
    after_module = fp(case)
    assert after_module != changed
    (case / "schema.pbtxt").write_text("feature { name: 'b' }\n")
    after_schema = fp(case)
    assert after_schema != after_module
    src = case / "fake_tfxkit.py"
    src.write_text("x = 1\n")
    monkeypatch.setattr(fast_path, "_tfxkit_sources", lambda: [str(src)])
    mine = fp(case)
    src.write_text("x = 2\n")  # tfxkit's own code
    assert fp(case) != mine
    monkeypatch.setattr(fast_path, "_version", lambda dist: "9.9")  # TFX / TensorFlow
    assert fp(case) != mine


def test_tfxkit_sources_are_every_package_of_it():
    """The fingerprint covers the code of every tfxkit package, wherever it is installed
    (an editable install maps components/, pipelines/ and infra/ from the repository)."""
    import tfxkit.components.example_gen.ingest as ingest
    import tfxkit.infra.run.fast_path as me
    import tfxkit.pipelines.config.pipeline as pipeline
    import tfxkit.testing as testing

    files = fast_path._tfxkit_sources()
    for module in (ingest, me, pipeline, testing):
        assert os.path.abspath(module.__file__) in files, module.__name__
    assert len(files) == len(set(files)) and len(files) > 100


def test_no_fingerprint_for_a_source_it_cannot_read_first(case):
    assert fp(case, "data.source.csv=gs://bucket/data/*.csv") is None
    assert fp(case, "data.source.csv=nothing/*.csv") is None


def _run_ctx(store, types, pipeline_id, name, **props):
    from ml_metadata.proto import metadata_store_pb2 as pb

    ctx = pb.Context(type_id=types["pipeline_run"], name=name)
    for k, v in props.items():
        if isinstance(v, int):
            ctx.custom_properties[k].int_value = v
        else:
            ctx.custom_properties[k].string_value = v
    [cid] = store.put_contexts([ctx])
    store.put_parent_contexts([pb.ParentContext(child_id=cid, parent_id=pipeline_id)])
    return cid


@pytest.fixture
def recorded(case):
    """An MLMD with the pipeline's context, and a registry serving a version."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    from tfxkit.components.registry.registry import Registry
    from tfxkit.pipelines import mlmd
    from tests.unit.components.registry.test_registry import model

    cfg = load_config(case / "config.yaml")
    mlmd.prepare(cfg)
    store = metadata_store.MetadataStore(mlmd.connection_config(cfg))
    types = {n: store.put_context_type(pb.ContextType(name=n))
             for n in ("pipeline", "pipeline_run")}
    [pid] = store.put_contexts([pb.Context(type_id=types["pipeline"], name=cfg.name)])
    version = Registry(cfg.registry_path, name=cfg.name).publish(model(case, "m"))[0]

    def add(name, nodes=("ExampleGen", "Pusher"), **props):
        base = {state.RUN_STATE: state.SUCCEEDED, state.RUN_NODES: json.dumps(list(nodes))}
        return _run_ctx(store, types, pid, name, **{**base, **props})
    return cfg, store, add, version


def test_the_newest_completed_training_run_with_the_same_inputs_is_a_hit(recorded):
    cfg, store, add, version = recorded
    now = fast_path.inputs_fingerprint(cfg)
    assert fast_path.check(cfg, now) is None  # no run yet
    add("run-1", **{fast_path.INPUTS: now})  # completed, but no exit status recorded
    assert fast_path.check(cfg, now) is None
    fast_path.record(cfg, "run-1", now, 0)
    hit = fast_path.check(cfg, now)
    assert (hit.run_id, hit.status, hit.serving) == ("run-1", 0, version)
    assert fast_path.text(hit).startswith(f"Nothing changed since run run-1: the same data, "
                                          f"config, modules and tfxkit; nothing ran (model "
                                          f"{version} is serving)")
    # a batch-inference run after it does not count
    add("predict-1", nodes=("BatchInferrer",))
    assert fast_path.check(cfg, now).run_id == "run-1"
    assert fast_path.check(cfg, "sha256:other") is None  # any input changed
    fingerprint, hit = fast_path.decide(cfg, None, force=False)
    assert fingerprint == now and hit.run_id == "run-1"
    assert fast_path.decide(cfg, None, force=True) == (now, None)  # --force: run anyway
    assert fast_path.decide(cfg, "Trainer", force=False) == (None, None)  # --from: partial


def test_no_hit_after_a_failed_or_different_run_or_without_the_serving_folder(recorded):
    cfg, store, add, version = recorded
    now = fast_path.inputs_fingerprint(cfg)
    add("run-1", **{fast_path.INPUTS: now, fast_path.EXIT_STATUS: 0})
    add("run-2", **{state.RUN_STATE: state.FAILED, fast_path.INPUTS: now})
    assert fast_path.check(cfg, now) is None  # the newest training run failed
    add("run-3", **{fast_path.INPUTS: "sha256:older-data", fast_path.EXIT_STATUS: 0})
    assert fast_path.check(cfg, now) is None  # the newest ran on other inputs
    add("run-4", **{fast_path.INPUTS: now, fast_path.EXIT_STATUS: 0})
    assert fast_path.check(cfg, now).run_id == "run-4"
    import shutil

    shutil.rmtree(os.path.join(cfg.registry_path, version))  # the serving folder is gone
    assert fast_path.check(cfg, now) is None


def test_a_not_blessed_run_exits_3_again(recorded):
    cfg, store, add, version = recorded
    now = fast_path.inputs_fingerprint(cfg)
    add("run-1", **{fast_path.INPUTS: now, fast_path.EXIT_STATUS: 3})
    hit = fast_path.check(cfg, now)
    assert hit.status == 3
    assert "its model was not blessed, nothing was pushed" in fast_path.text(hit)


def test_the_command_imports_nothing_heavy_and_says_so(recorded):
    """`tfxkit run` on unchanged inputs: exit as the earlier run, no TensorFlow, TFX or
    Beam imported; a partial run goes on to load TFX (stopped here by a bad --from)."""
    cfg, store, add, version = recorded
    add("run-1", **{fast_path.INPUTS: fast_path.inputs_fingerprint(cfg),
                    fast_path.EXIT_STATUS: 0})
    probe = textwrap.dedent("""
        import atexit, sys
        from tfxkit.infra.cli import main
        heavy = ("tensorflow", "tfx", "apache_beam", "tensorflow_transform")
        atexit.register(lambda: print("HEAVY", sorted(m for m in heavy if m in sys.modules)))
        main(sys.argv[1:])
        """)
    r = subprocess.run([sys.executable, "-c", probe, "run", cfg.config_path],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Nothing changed since run run-1" in r.stdout and "HEAVY []" in r.stdout, r.stdout
    assert "loading TFX" not in r.stdout
    r = subprocess.run([sys.executable, "-c", probe, "run", cfg.config_path, "--from",
                        "Nope"], capture_output=True, text=True, timeout=300)
    assert "Nothing changed" not in r.stdout and "loading TFX" in r.stdout
    assert r.returncode == 2 and "--from: unknown component 'Nope'" in r.stderr
