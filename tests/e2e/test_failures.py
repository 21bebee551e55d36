"""Runs that must stop: anomalies before training, a failing component; user modules."""
import os
import textwrap

import pytest

from tests.e2e.helpers import node_states, registry_versions, runs, store, tfxkit

pytestmark = pytest.mark.e2e


def test_anomalies_stop_the_run_before_training(failed_validation):
    # The shared run (conftest.py) with a curated schema that does not know the island
    # 'Dream' (--set validation.schema=schema.pbtxt): the data violates it.
    case, r = failed_validation.case, failed_validation
    assert r.returncode == 1
    assert "Run failed in ValidationGate" in r.stderr and "island" in r.stderr
    s = store(case / ".tfxkit" / "metadata.sqlite")
    states = node_states(s, "penguin-species", runs(s, "penguin-species")[-1])
    assert states["ValidationGate"] == "FAILED"
    assert "Transform" not in states and "Trainer" not in states
    assert not (case / "models").exists()


def test_failing_component_is_named(template_copy):
    case = template_copy("regression")
    (case / "preprocessing.py").write_text(
        "def preprocessing_fn(inputs, custom_config):\n"
        "    raise ValueError('column distance_km is broken')\n")
    r = tfxkit("run", case / "config.yaml", "--set", "features.module=preprocessing.py")
    assert r.returncode == 1
    assert "Run failed in Transform" in r.stderr and "distance_km is broken" in r.stderr


def test_user_preprocessing_and_model_modules(template_copy):
    case = template_copy("multiclass")
    (case / "preprocessing.py").write_text(textwrap.dedent("""
        from tfxkit.pipelines import transform as t

        def preprocessing_fn(inputs, custom_config):
            out = {}
            for name in ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]:
                out[name + "_xf"] = t.scale(t.impute(inputs[name], "median"), "z_score")
            out["island_xf"] = t.vocabulary(t.impute(inputs["island"], "most_frequent"))
            out.update(t.transform_label(inputs, custom_config))
            return out
    """))
    (case / "model.py").write_text(textwrap.dedent("""
        import tf_keras as keras
        from tfxkit.pipelines.models import build_model as zoo_build

        def build_model(task, features, model_cfg, n_classes):
            model = zoo_build(task, features, dict(model_cfg, kind="wide_deep"), n_classes)
            model._name = "custom_wide_deep"
            return model
    """))
    r = tfxkit("run", case / "config.yaml", "--set", "features.module=preprocessing.py",
               "--set", "model.module=model.py", "--set", "model.epochs=5",
               "--set", "model.steps=300")
    assert r.returncode == 0, r.stderr
    assert "BLESSED" in r.stdout
    import tensorflow as tf

    [version] = registry_versions(case / "models")
    loaded = tf.saved_model.load(str(case / "models" / version))
    spec = loaded.signatures["transform_features"].structured_outputs
    assert set(spec) == {"bill_length_mm_xf", "bill_depth_mm_xf", "flipper_length_mm_xf",
                         "island_xf", "species_xf"}


def test_not_blessed_run_says_why_and_pushes_nothing(template_copy):
    case = template_copy("regression")
    r = tfxkit("run", case / "config.yaml", "--set",
               "eval.metrics=[{name: mae, upper_bound: 0.5}]", "--set", "model.epochs=3")
    assert r.returncode == 3, r.stderr  # completed, not blessed
    assert "NOT blessed" in r.stdout
    assert "FAIL mean_absolute_error" in r.stdout and "[<= 0.5]" in r.stdout
    assert "why: mean_absolute_error" in r.stdout
    assert "Not pushed" in r.stdout
    assert not (case / "models").exists() or not os.listdir(case / "models")
