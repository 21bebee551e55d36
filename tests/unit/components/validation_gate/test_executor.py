"""The validation gate's executor (``validation_gate/executor.py``) on remote URIs (TensorFlow's
ram:// file system stands in for GCS)."""
import json


def test_validation_gate_writes_remote_uris():
    from tfx.dsl.io import fileio
    from tfx.types import standard_artifacts

    from tfxkit.components.validation_gate.component import DataValidation
    from tfxkit.components.validation_gate.executor import Executor

    art = standard_artifacts.ExampleAnomalies()
    art.uri = "ram://tfxkit-deploy-test/anomalies"
    art.split_names = json.dumps(["train"])
    fileio.makedirs(f"{art.uri}/Split-train")
    with fileio.open(f"{art.uri}/Split-train/SchemaDiff.pb", "wb") as f:
        f.write(b"")
    out = DataValidation()
    out.uri = "ram://tfxkit-deploy-test/gate"
    fileio.makedirs(out.uri)
    Executor().Do({"anomalies": [art]}, {"result": [out]}, {"on_anomalies": "fail"})
    with fileio.open(f"{out.uri}/anomalies.json") as f:
        assert json.load(f) == []
