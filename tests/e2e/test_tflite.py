"""TensorFlow Lite export (``push.tflite``, issue 20.5), end to end on the binary
template with ``transform: include`` and ``select_tf_ops``: the .tflite takes the raw
features with the transform inside (its quantile bucketize is ``UpperBound``, a Flex op).
``test_tflite_separate.py``: the multiclass template with ``transform: separate``.

Each asserts that the pushed registry version holds ``tflite/model.tflite`` (listed in the
record, outside the content hash), that the TFLite interpreter fed the eval rows in this
test gives the SavedModel's outputs within the tolerance, and that the InfraValidator
recorded its own comparison in ML Metadata."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.helpers import store, tfxkit
from tfxkit.components.tflite.check import interpreter

pytestmark = pytest.mark.e2e
TOLERANCE = 1e-4


def eval_examples(case: Path, pipeline: str):
    """The serialized tf.Examples of the eval split of the newest ExampleGen output."""
    import tensorflow as tf

    root = case / ".tfxkit" / pipeline / "ExampleGen" / "examples"
    newest = max((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    files = sorted(str(f) for f in (newest / "Split-eval").iterdir())
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def pushed_version(case: Path):
    index = json.loads((case / "models" / "registry.json").read_text())
    v = index["serving"]
    return v, case / "models" / v, index["versions"][v]


def saved_model_outputs(model, examples):
    import tensorflow as tf

    fn = model.signatures["serving_default"]
    key = list(fn.structured_input_signature[1])[0]
    return {k: v.numpy() for k, v in fn(**{key: tf.constant(examples)}).items()}


def max_abs_diff(expected, actual):
    """The largest difference over the numeric outputs; string outputs must be equal."""
    worst = 0.0
    for name, want in expected.items():
        got = np.asarray(actual[name]).reshape(want.shape)
        if want.dtype.kind in "SOU":
            assert [x for x in got.ravel()] == [x for x in want.ravel()], name
            continue
        worst = max(worst, float(np.abs(got.astype(np.float64) - want).max()))
    return worst


def infra_record(case: Path):
    s = store(case / ".tfxkit" / "metadata.sqlite")
    b = max(s.get_artifacts_by_type("InfraBlessing"), key=lambda a: a.id)
    return {k: (v.int_value if v.HasField("int_value") else v.double_value
                if v.HasField("double_value") else v.string_value)
            for k, v in b.custom_properties.items()}, b.uri


def check_version(case: Path, signature: str):
    """The registry's side: the file, its record, the content hash; returns what the test
    needs to feed it."""
    from tfxkit.components.registry.hashing import content_hash

    v, folder, rec = pushed_version(case)
    tfl = folder / "tflite" / "model.tflite"
    content = tfl.read_bytes()
    info = rec["tflite"]
    assert info["path"] == "tflite/model.tflite" and info["signature"] == signature
    assert info["size_bytes"] == len(content)
    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert json.loads((folder / "tflite" / "tflite.json").read_text())["sha256"] == info["sha256"]
    assert rec["sha256"] == content_hash(str(folder))  # the .tflite is outside the hash
    saved = sum(p.stat().st_size for p in folder.rglob("*")
                if p.is_file() and "tflite" not in p.parts and "model_card" not in p.parts)
    runner = interpreter(content).get_signature_runner(signature)
    return v, folder, rec, runner, len(content), saved


def validator_says(case: Path, rows_fed: int):
    props, uri = infra_record(case)
    assert props["blessed"] == 1 and props["tflite_ok"] == 1, props
    assert props["tflite_rows"] == min(rows_fed, 100)  # infra_validation.examples: 100
    # the exact figure is the text one (MLMD's SQLite rounds doubles to ~6 decimals)
    props["tflite_max_abs_diff"] = float(props["tflite_max_abs_diff_text"])
    assert props["tflite_max_abs_diff"] <= TOLERANCE
    assert (Path(uri) / "tflite" / "model.tflite").exists()
    return props


def test_binary_with_the_transform_inside(template_copy):
    import tensorflow as tf

    case = template_copy("binary")
    r = tfxkit("run", case / "config.yaml", "--set", "model.epochs=3",
               "--set", "push.tflite={select_tf_ops: true}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Pushed version" in r.stdout and "TFLite (serving_raw, " in r.stdout, r.stdout
    v, folder, rec, runner, size, saved = check_version(case, "serving_raw")
    assert rec["tflite"]["select_tf_ops"] is True and rec["tflite"]["transform"] == "include"

    examples = eval_examples(case, "breast-cancer")
    feeds = {}
    for name, d in runner.get_input_details().items():  # one raw tensor per feature
        col = []
        for e in examples:
            f = tf.train.Example.FromString(e).features.feature[name]
            col.append((list(f.float_list.value) or list(f.int64_list.value))[0])
        feeds[name] = np.asarray(col, dtype=d["dtype"])
    assert len(feeds) == 16  # the template's dense features, raw
    expected = saved_model_outputs(tf.saved_model.load(str(folder)), examples)
    actual = runner(**feeds)
    assert set(actual) == set(expected) == {"probabilities", "class_id", "class"}
    diff = max_abs_diff(expected, actual)
    props = validator_says(case, len(examples))
    print(f"binary/include+flex: version {v}: model.tflite {size} bytes (SavedModel "
          f"{saved} bytes); max abs diff {diff:.3g} on {len(examples)} eval rows here, "
          f"{props['tflite_max_abs_diff']:.3g} on {props['tflite_rows']} rows in the "
          f"InfraValidator")
    assert diff <= TOLERANCE

    models = tfxkit("models", case / "config.yaml")
    assert f"tflite {folder / 'tflite' / 'model.tflite'}  {size} bytes  serving_raw" in \
        models.stdout, models.stdout
