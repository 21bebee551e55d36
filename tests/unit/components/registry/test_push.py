"""The RegistryPusher's gates (components/registry/push.py, plain Python) and the
construction of the InfraValidator and RegistryPusher components."""
import pytest

from tfxkit.components.registry import push
from tfxkit.components.registry.registry import Registry
from tests.unit.components.registry.test_registry import model

OK = push.Gate(True, "fine")


@pytest.mark.parametrize("mb,ib,expect", [
    (None, OK, "no model blessing"),
    (push.Gate(None), OK, "no model blessing"),
    (push.Gate(False), OK, "not blessed by the Evaluator"),
    (OK, None, "no infra blessing"),
    (OK, push.Gate(False, "p99 latency 3 ms exceeds max_latency_ms 1"),
     "infra validation failed: p99 latency 3 ms exceeds max_latency_ms 1"),
    (None, None, "no model blessing: the Evaluator's blessing is required to push; "
                 "no infra blessing"),
])
def test_push_refused_without_both_blessings(tmp_path, mb, ib, expect):
    out = push.push(str(tmp_path / "models"), model(tmp_path, "m"), {}, mb, ib)
    assert not out.pushed and expect in out.reason and out.version is None
    assert not (tmp_path / "models").exists()  # nothing was written


def test_push_publishes_trims_and_is_idempotent(tmp_path):
    path = str(tmp_path / "models")
    outs = [push.push(path, model(tmp_path, str(i), str(i).encode()), {"metrics": {"a": i}},
                      OK, OK, keep_versions=2) for i in range(3)]
    assert all(o.pushed for o in outs)
    assert outs[2].trimmed == (outs[0].version,)
    assert Registry(path).versions() == [outs[1].version, outs[2].version]
    again = push.push(path, model(tmp_path, "again", b"2"), {}, OK, OK, keep_versions=2)
    assert not again.pushed and again.version == outs[2].version
    assert "identical to the serving version" in again.reason


def test_components_construct():
    from tfx.types import Channel, standard_artifacts

    from tfxkit.components.serving_check.component import InfraValidator
    from tfxkit.components.registry.component import RegistryPusher

    model_ch = Channel(type=standard_artifacts.Model)
    iv = InfraValidator(model=model_ch, examples=Channel(type=standard_artifacts.Examples),
                        num_examples=10, max_latency_ms=50)
    assert iv.outputs["blessing"].type is standard_artifacts.InfraBlessing
    assert iv.exec_properties["max_latency_ms"] == 50.0
    p = RegistryPusher(model=model_ch, registry="/tmp/models",
                       model_blessing=Channel(type=standard_artifacts.ModelBlessing),
                       infra_blessing=iv.outputs["blessing"], keep_versions=3)
    assert p.outputs["pushed_model"].type is standard_artifacts.PushedModel
    assert set(p.inputs) >= {"model", "model_blessing", "infra_blessing"}
    # constructible without the blessings (the executor then refuses to push)
    bare = RegistryPusher(model=model_ch, registry="/tmp/models")
    assert "model_blessing" not in bare.inputs
    with pytest.raises(ValueError, match="keep_versions"):
        RegistryPusher(model=model_ch, registry="/tmp/models", keep_versions=0)
    with pytest.raises(ValueError):
        InfraValidator(model=model_ch, examples=Channel(type=standard_artifacts.Examples),
                       max_latency_ms=0)
