"""infra/serving/protocols/common.py: what a SavedModel declares (signatures, class
names), the version a request names, the limits and the service's errors as statuses."""
import asyncio

import pytest

from tfxkit.infra.serving.errors import InstanceError, ModelError, TooLarge
from tfxkit.infra.serving.protocols import common
from tests.unit.infra.serving.protocols.conftest import served


def test_model_info_reads_signatures_and_class_names(classifier, regressor):
    info = common.model_info(classifier)
    assert "serving_default" in info.signature_defs
    assert set(info.outputs) == {"class", "class_id", "probabilities"}
    assert info.class_names(2) == ["neg", "pos"] and info.class_names(1) == ["neg", "pos"]
    assert info.class_names(3) is None
    reg = common.model_info(regressor)
    assert set(reg.outputs) == {"prediction"} and reg.class_names(2) is None


def test_service_errors_as_statuses():
    assert common.as_protocol_error(TooLarge("big")).status == 413
    assert common.as_protocol_error(InstanceError("bad")).status == 400
    assert common.as_protocol_error(ModelError("boom")).status == 500
    e = common.as_protocol_error(LookupError("loading the model"))
    assert e.status == 503 and e.message == "loading the model"
    with pytest.raises(ZeroDivisionError):  # not ours: raised again
        common.as_protocol_error(ZeroDivisionError("x"))


def test_labels_and_versions(tmp_path, classifier):
    from tfxkit.components.registry.registry import Registry

    reg = Registry(str(tmp_path / "models"), name="m")
    v, _ = reg.publish(classifier, {})
    reg.set_alias("champion", v)
    with served(registry=reg, max_instances=2) as (_c, svc):
        assert asyncio.run(common.label_version(svc, "champion")) == v
        assert asyncio.run(common.label_version(svc, "serving")) == v
        assert asyncio.run(common.label_version(svc, "nobody")) is None
        assert common.find_loaded(svc, v) is svc.stable
        assert common.find_loaded(svc, "1") is None
        with pytest.raises(common.ProtocolError) as e:
            common.check_count(svc, 3)
        assert e.value.status == 413 and "serving.max_instances" in e.value.message
        with pytest.raises(common.ProtocolError):
            common.check_count(svc, 0)
