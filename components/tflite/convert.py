"""Conversion of a SavedModel signature to TensorFlow Lite, in plain Python.

``convert`` tries TFLite's builtin ops first. When the graph has ops the builtins lack
(vocabulary lookups from text files, string hashing, ...), it either converts again with
``SELECT_TF_OPS`` (Flex ops, when allowed) or raises ``ConversionError`` naming the
unsupported ops, parsed from the converter's message (``unsupported_ops``), and the
options: ``push.tflite.select_tf_ops: true``, or ``push.tflite.transform: separate``
(only the Keras model over transformed features; the transform runs apart).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List

# the converter's ways of naming an op it cannot lower to TFLite builtins
_OP_PATTERNS = (
    re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op"),
    re.compile(r"'tf\.(\w+)' op is not supported"),
    re.compile(r"failed to legalize operation 'tf\.(\w+)'"),
)
_OP_LIST = re.compile(r"^\s*(?:TF Select ops|Flex ops|Custom ops):\s*(.+)$", re.MULTILINE)


class ConversionError(Exception):
    """The conversion failed; ``ops`` names the ops TFLite lacks (empty when the converter
    failed for another reason, then the message carries its own)."""

    def __init__(self, message: str, ops: List[str]):
        super().__init__(message)
        self.ops = ops


@dataclass
class Converted:
    content: bytes
    select_tf_ops: bool            # converted with Flex ops (SELECT_TF_OPS)
    flex_ops: List[str] = field(default_factory=list)  # the ops that needed them


def unsupported_ops(message: str) -> List[str]:
    """The op names (``StringToHashBucketFast``, ...) a converter error message says
    TFLite's builtins lack, sorted, each once."""
    ops = set()
    for pattern in _OP_PATTERNS:
        ops.update(pattern.findall(message))
    for line in _OP_LIST.findall(message):
        ops.update(o.strip() for o in line.split(",") if re.fullmatch(r"\w+", o.strip()))
    return sorted(ops)


# a lookup table filled from a vocabulary file (tft.compute_and_apply_vocabulary)
TABLE_FROM_FILE_OPS = frozenset({"InitializeTableFromTextFileV2", "InitializeTableFromTextFile"})


def vocabulary_tables(saved_model_dir: str) -> int:
    """How many lookup tables the SavedModel fills from vocabulary files (its graph's and
    functions' ``InitializeTableFromTextFile`` ops); 0 when it cannot tell."""
    import os

    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(saved_model_dir, "saved_model.pb")
    try:
        import tensorflow as tf

        with tf.io.gfile.GFile(path, "rb") as f:
            sm = saved_model_pb2.SavedModel.FromString(f.read())
    except Exception:  # pylint: disable=broad-except  (no such file, not a SavedModel)
        return 0
    n = 0
    for mg in sm.meta_graphs:
        n += sum(node.op in TABLE_FROM_FILE_OPS for node in mg.graph_def.node)
        for fn in mg.graph_def.library.function:
            n += sum(node.op in TABLE_FROM_FILE_OPS for node in fn.node_def)
    return n


def _first_lines(message: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return " | ".join(lines[:n])[:600]


def frozen_signature(saved_model_dir: str, signature: str, out_dir: str) -> bool:
    """Writes to ``out_dir`` a SavedModel whose ``signature`` is the one of
    ``saved_model_dir`` with its variables folded into constants
    (``convert_variables_to_constants_v2``, what TensorFlow's own converter does for a
    concrete function), under the same input and output names. Why: TF 2.21's
    ``from_saved_model`` left a Keras 3 model's variables as TFLite resource variables that
    nothing initialises, and the .tflite computed something else (measured: a Dense layer's
    softmax off by 0.72-0.90; frozen first: 4e-9). False, nothing written, when the
    signature cannot be frozen (the caller then converts the SavedModel as it is)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import \
        convert_variables_to_constants_v2  # pylint: disable=no-name-in-module

    try:
        loaded = tf.saved_model.load(saved_model_dir)  # kept: its variables live with it
        fn = loaded.signatures[signature]
        frozen = convert_variables_to_constants_v2(fn)
    except Exception:  # pylint: disable=broad-except  (tables, a missing signature, ...)
        return False
    specs = fn.structured_input_signature[1]
    names = sorted(specs)
    by_placeholder = {specs[k].name or k: k for k in names}
    order = [by_placeholder.get(t.name.split(":")[0]) for t in frozen.inputs]
    if None in order or sorted(order) != names:
        return False
    out_keys = sorted(fn.structured_outputs)

    def call(*args):
        given = dict(zip(names, args))
        flat = tf.nest.flatten(frozen(*[given[k] for k in order]))
        return dict(zip(out_keys, flat))

    wrapper = tf.function(call, input_signature=[
        tf.TensorSpec(specs[k].shape, specs[k].dtype, name=k) for k in names])
    module = tf.Module()
    module.serve = wrapper
    tf.saved_model.save(module, out_dir,
                        signatures={signature: wrapper.get_concrete_function()})
    return True


def _convert(saved_model_dir: str, signature: str, select: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=[signature])
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if select:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    return converter.convert()


def convert(saved_model_dir: str, signature: str, select_tf_ops: bool = False,
            transform: str = "include") -> Converted:
    """The TFLite flatbuffer of ``signature`` of the SavedModel at ``saved_model_dir``
    (frozen first, once: ``frozen_signature``): builtins only when they suffice, else with
    Flex ops when ``select_tf_ops``; otherwise ``ConversionError`` naming the missing ops
    and the options."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tfxkit-tflite-") as tmp:
        source = tmp if frozen_signature(saved_model_dir, signature, tmp) else saved_model_dir
        return _convert_source(source, saved_model_dir, signature, select_tf_ops, transform)


def _convert_source(source: str, saved_model_dir: str, signature: str, select_tf_ops: bool,
                    transform: str) -> Converted:
    """``convert`` on ``source`` (the frozen copy, or the SavedModel itself);
    ``saved_model_dir`` is only asked for its vocabulary tables."""
    try:
        return Converted(_convert(source, signature, False), False)
    except Exception as e:  # pylint: disable=broad-except  (ConverterError and kin)
        message = str(e)
    ops = unsupported_ops(message)
    if not ops:
        raise ConversionError(f"TFLite conversion of signature {signature!r} failed: "
                              f"{_first_lines(message)}", [])
    if select_tf_ops:
        try:
            return Converted(_convert(source, signature, True), True, ops)
        except Exception as e:  # pylint: disable=broad-except
            raise ConversionError(
                f"TFLite conversion of signature {signature!r} failed even with Select TF "
                f"ops (push.tflite.select_tf_ops) for {', '.join(ops)}: "
                f"{_first_lines(str(e))}", unsupported_ops(str(e)) or ops) from None
    options = ["push.tflite.select_tf_ops: true (Flex ops; the app then needs TFLite's "
               "Select TF ops runtime)"]
    if transform == "include":
        separate = ("push.tflite.transform: separate (the .tflite takes the transformed "
                    "features; run the transform apart, e.g. the SavedModel's "
                    "transform_features signature)")
        tables = vocabulary_tables(saved_model_dir)
        if tables:  # measured on TF 2.16: converted with Flex ops, their lookups then fail
            options = [separate + "; select_tf_ops alone will not do: lookup tables "
                       "filled from vocabulary files are not initialised in a .tflite "
                       f"({tables} InitializeTableFromTextFile op(s) in the SavedModel)"]
        else:
            options.append(separate)
    raise ConversionError(
        f"TFLite builtins lack {len(ops)} op(s) of signature {signature!r}"
        f"{' (the transform graph included)' if transform == 'include' else ''}: "
        f"{', '.join(ops)}; set " + " or ".join(options), ops)
