"""Where the TFX 1.16 and 1.21 stacks differ (``compat.py``), asked of the installed stack
and of the other one (the version patched): the release, the Keras a model is built with,
TFMA's config protos, the stock components. The model zoo's use of it is tested in
test_models.py, the compiler's SDK version in tests/unit/infra/deploy/test_compiler.py."""
import importlib.metadata
import sys

import pytest

from tfxkit.pipelines import compat


def test_the_release_is_read_from_the_installed_distribution(monkeypatch):
    assert compat.tfx_version() == importlib.metadata.version("tfx")
    assert compat.tfx_release() == tuple(int(x) for x in compat.tfx_version().split(".")[:2])
    monkeypatch.setattr(compat, "tfx_version", lambda: "1.21.0rc1")
    assert compat.tfx_release() == (1, 21)
    monkeypatch.setattr(compat, "tfx_version", lambda: "1.16.0")
    assert compat.tfx_release() == (1, 16)


def test_tfx_version_imports_no_tfx():
    import subprocess

    code = ("import sys; from tfxkit.pipelines import compat; v = compat.tfx_version(); "
            "print(v, any(m == 'tfx' or m.startswith('tfx.') for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [importlib.metadata.version("tfx"), "False"]


@pytest.mark.parametrize("release,auto", [("1.16.0", 2), ("1.20.1", 2), ("1.21.0", 3),
                                          ("2.0.0", 3)])
def test_keras_auto_follows_the_release_and_an_explicit_choice_stays(monkeypatch, release,
                                                                      auto):
    monkeypatch.setattr(compat, "tfx_version", lambda: release)
    assert compat.keras_version() == compat.keras_version("auto") == auto
    assert compat.keras_version(None) == auto
    for wanted, got in ((2, 2), (3, 3), ("2", 2), ("3", 3)):
        assert compat.keras_version(wanted) == got
    for bad in (4, "keras3", 2.5):
        with pytest.raises(ValueError, match=f"model.keras: {bad!r} should be one of auto, 2, 3"):
            compat.keras_version(bad)


def test_keras_modules_and_the_keras_a_model_was_built_with():
    import tf_keras

    assert compat.keras_module(2) is tf_keras
    k3 = compat.keras_module(3)
    assert k3.__name__ == "keras" and k3.__version__.startswith("3.")
    m2 = tf_keras.Sequential([tf_keras.layers.Dense(1, input_shape=(2,))])
    m3 = k3.Sequential([k3.Input((2,)), k3.layers.Dense(1)])
    assert (compat.is_keras3(m2), compat.is_keras3(m3)) == (False, True)
    assert compat.keras_of(m2) is tf_keras and compat.keras_of(m3) is k3


def test_keras_3_asked_of_a_keras_2_install_names_both(monkeypatch):
    fake = type(sys)("keras")
    fake.__version__ = "2.15.0"
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(ImportError, match="model.keras: 3 needs Keras 3, found keras 2.15.0"):
        compat.keras_module(3)


def test_tfma_config_has_every_proto_on_both_stacks():
    cfg = compat.tfma_config()
    for name in ("EvalConfig", "MetricsSpec", "SlicingSpec", "CrossSlicingSpec", "Options",
                 "MetricConfig", "MetricThreshold", "MetricDirection", "ModelSpec"):
        assert hasattr(cfg, name), name
    spec = cfg.CrossSlicingSpec(baseline_spec=cfg.SlicingSpec(feature_keys=["a"]))
    assert list(spec.baseline_spec.feature_keys) == ["a"]


def test_stock_components_are_classes_and_a_missing_one_says_why(monkeypatch):
    import tfx.components

    trainer, pusher = compat.tfx_components("Trainer", "Pusher")
    assert (trainer.__name__, pusher.__name__) == ("Trainer", "Pusher")
    # TFX 1.21 leaves None where a component's import failed: the import is repeated
    monkeypatch.setattr(tfx.components, "Pusher", None)
    assert compat.tfx_components("Pusher") == (pusher,)
    monkeypatch.setitem(compat._COMPONENT_MODULES, "Pusher", "tfxkit_no_such_module.pusher")
    with pytest.raises(ImportError, match=r"TFX .*: Pusher cannot be imported "
                                          r"\(tfxkit_no_such_module.pusher\): No module"):
        compat.tfx_components("Pusher")
    with pytest.raises(ImportError, match="tfx.components has no NoSuchGen"):
        compat.tfx_components("NoSuchGen")

