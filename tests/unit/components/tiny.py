"""Tiny real artifacts for the executor tests: tf.Examples in an Examples artifact's split
folders (as ExampleGen writes them), a Model whose SavedModel doubles its input (as the
Trainer lays it out), and a component's execution properties as the orchestrator hands
them to its executor."""
import json
import os
from typing import Any, Dict, Sequence, Tuple


def example(key: str, x: float) -> bytes:
    """A serialized tf.Example with a key column ``id`` and one feature ``x``."""
    import tensorflow as tf

    return tf.train.Example(features=tf.train.Features(feature={
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})).SerializeToString()


def examples_artifact(uri: str, rows: Sequence[Tuple[str, float]],
                      splits: Sequence[str] = ("eval",), files: int = 1):
    """An Examples artifact at ``uri``: each split holds ``rows`` (key, x) as tf.Examples,
    spread over ``files`` gzipped TFRecord files."""
    import tensorflow as tf
    from tfx.types import standard_artifacts

    art = standard_artifacts.Examples()
    art.uri = uri
    art.split_names = json.dumps(list(splits))
    for split in splits:
        folder = os.path.join(uri, f"Split-{split}")
        os.makedirs(folder)
        for i in range(files):
            name = f"data_tfrecord-{i:05d}-of-{files:05d}.gz"
            with tf.io.TFRecordWriter(os.path.join(folder, name), "GZIP") as w:
                for key, x in rows[i::files]:
                    w.write(example(key, x))
    return art


def doubling_model(uri: str):
    """A Model artifact at ``uri`` whose SavedModel (under ``Format-Serving``, where the
    Trainer exports it) maps serialized tf.Examples to ``{"double": 2 * x}``."""
    import tensorflow as tf
    from tfx.types import standard_artifacts

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, serialized):
            parsed = tf.io.parse_example(serialized,
                                         {"x": tf.io.FixedLenFeature([1], tf.float32)})
            return {"double": parsed["x"] * 2.0}

    m = Doubler()
    tf.saved_model.save(m, os.path.join(uri, "Format-Serving"),
                        signatures={"serving_default": m.serve})
    art = standard_artifacts.Model()
    art.uri = uri
    return art


def exec_properties(component) -> Dict[str, Any]:
    """``component``'s execution properties as its executor receives them (protos as
    JSON, unset ones left out)."""
    from google.protobuf.message import Message
    from tfx.utils import proto_utils

    return {k: proto_utils.proto_to_json(v) if isinstance(v, Message) else v
            for k, v in component.exec_properties.items() if v is not None}
