"""TensorFlow Lite export (``push.tflite``, issue 20.5) with ``transform: separate``, on a
copy of the shared quick multiclass run (only the Trainer and what follows it run again):
the template's vocabulary lookups do not survive conversion (components/tflite/README.md),
so the .tflite takes the transformed features (TFLite builtins only) and both the check
and this test feed it the SavedModel's ``transform_features`` outputs. The assertions are
``test_tflite.py``'s."""
import pytest

from tests.e2e.helpers import tfxkit
from tests.e2e.test_tflite import (TOLERANCE, check_version, eval_examples, max_abs_diff,
                                   saved_model_outputs, validator_says)

pytestmark = pytest.mark.e2e


def test_multiclass_with_the_transform_separate(trained_multiclass, copy_case):
    import tensorflow as tf

    case = copy_case(trained_multiclass.case)
    r = tfxkit("run", case / "config.yaml", "--profile", "quick",
               "--set", "push.tflite.transform=separate")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Pushed version" in r.stdout and "TFLite (serving_transformed, " in r.stdout
    v, folder, rec, runner, size, saved = check_version(case, "serving_transformed")
    assert rec["tflite"]["select_tf_ops"] is False  # builtins only

    examples = eval_examples(case, "penguin-species")
    model = tf.saved_model.load(str(folder))
    fn = model.signatures["transform_features"]  # the transform, shipped apart
    key = list(fn.structured_input_signature[1])[0]
    transformed = fn(**{key: tf.constant(examples)})
    feeds = {name: transformed[name].numpy().astype(d["dtype"])
             for name, d in runner.get_input_details().items()}
    assert {"island_xf", "sex_xf", "body_mass_g_xf"} <= set(feeds)
    expected = saved_model_outputs(model, examples)
    diff = max_abs_diff(expected, runner(**feeds))
    props = validator_says(case, len(examples))
    print(f"multiclass/separate: version {v}: model.tflite {size} bytes (SavedModel "
          f"{saved} bytes); max abs diff {diff:.3g} on {len(examples)} eval rows here, "
          f"{props['tflite_max_abs_diff']:.3g} on {props['tflite_rows']} rows in the "
          f"InfraValidator")
    assert diff <= TOLERANCE
