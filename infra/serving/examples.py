"""JSON instances -> serialized ``tf.Example``s, typed by the model's own raw feature spec.

A list feature (``features.sequence``) takes a JSON list (or, as in CSV, one delimited
string the transform splits). The spec is read from the ``tf.io.parse_example`` op inside the model's
``serving_default`` signature (``spec_from_graph_def``), so it is exactly what the
transform graph parses; missing features are allowed. The encoding itself needs no
TensorFlow (``components/common/records.py``'s wire format).
"""
from __future__ import annotations

import base64
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfxkit.components.common.records import field, varint
from tfxkit.infra.serving.errors import InstanceError, TooLarge


# -- the raw feature spec, from the model itself ----------------------------------------

_TYPES = {1: "float", 2: "float", 9: "int", 3: "int", 7: "bytes"}  # DataType enum


class FeatureSpec(dict):
    """{feature: "float"|"int"|"bytes"}, and what the parse op says of its dense
    (``FixedLenFeature``) features: ``sizes`` {feature: values per example} (1 for shape []
    or [1]: a scalar) and ``required`` (the dense features without a default value)."""

    def __init__(self, *args, sizes: Optional[Dict[str, int]] = None,
                 required: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.sizes: Dict[str, int] = dict(sizes or {})
        self.required = set(required)


def _dense_size(shape) -> Optional[int]:
    """Values per example of a dense feature's TensorShapeProto (None: unknown)."""
    if shape.unknown_rank:
        return None
    n = 1
    for d in shape.dim:
        if d.size < 0:
            return None
        n *= d.size
    return n


def spec_from_graph_def(graph_def) -> FeatureSpec:
    """{feature: "float"|"int"|"bytes"} from the ``ParseExampleV2``/``ParseExample`` ops of a
    GraphDef (the signature's function and the functions it calls), with the dense
    features' sizes and which of them have no default (``FeatureSpec``)."""
    import tensorflow as tf

    spec = FeatureSpec()
    bodies = [list(graph_def.node)] + [list(f.node_def) for f in graph_def.library.function]
    for nodes in bodies:
        by_name = {n.name: n for n in nodes}

        def const(ref: str):
            node = by_name.get(ref.split(":")[0].lstrip("^"))
            if node is None or node.op != "Const":
                return None
            return [v.decode() if isinstance(v, bytes) else str(v)
                    for v in np.asarray(tf.make_ndarray(node.attr["value"].tensor)).reshape(-1)]

        for n in nodes:
            if n.op == "ParseExampleV2":
                # inputs: serialized, names, sparse_keys, dense_keys, ragged_keys, defaults...
                groups = [(n.input[2], [t for t in n.attr["sparse_types"].list.type]),
                          (n.input[3], [t for t in n.attr["Tdense"].list.type]),
                          (n.input[4], [t for t in n.attr["ragged_value_types"].list.type])]
                for ref, types in groups:
                    keys = const(ref) or []
                    for k, t in zip(keys, types):
                        spec[k] = _TYPES.get(t, "bytes")
                dense = const(n.input[3]) or []
                shapes = list(n.attr["dense_shapes"].list.shape)
                defaults = list(n.input[5:5 + len(dense)])
                _dense_rules(spec, dense, shapes, defaults, const)
            elif n.op == "ParseExample":
                ns, nd = n.attr["Nsparse"].i, n.attr["Ndense"].i
                sparse_refs = list(n.input[2:2 + ns])
                dense_refs = list(n.input[2 + ns:2 + ns + nd])
                for refs, types in ((sparse_refs, n.attr["sparse_types"].list.type),
                                    (dense_refs, n.attr["Tdense"].list.type)):
                    for ref, t in zip(refs, types):
                        k = const(ref)
                        if k:
                            spec[k[0]] = _TYPES.get(t, "bytes")
                dense = [(const(r) or [None])[0] for r in dense_refs]
                defaults = list(n.input[2 + ns + nd:2 + ns + 2 * nd])
                _dense_rules(spec, dense, list(n.attr["dense_shapes"].list.shape), defaults,
                             const)
    return spec


def _dense_rules(spec: FeatureSpec, keys, shapes, defaults, const) -> None:
    for i, k in enumerate(keys):
        if k is None:
            continue
        size = _dense_size(shapes[i]) if i < len(shapes) else None
        if size is not None:
            spec.sizes[k] = size
        if i < len(defaults):
            value = const(defaults[i])
            if value is not None and len(value) == 0:  # an empty default: required
                spec.required.add(k)


# -- tf.Example wire format (no TensorFlow needed; components/common/records.py) --------

def _values(name: str, value, kind: str, where: str) -> Optional[list]:
    vals = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in vals:
        if v is None:
            continue
        if kind == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InstanceError(f"{where}: feature {name!r} is a number; got {v!r}")
            out.append(float(v))
        elif kind == "int":
            if isinstance(v, bool):
                v = int(v)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, int):
                raise InstanceError(f"{where}: feature {name!r} is an integer; got {v!r}")
            out.append(v)
        else:
            if isinstance(v, dict) and set(v) == {"b64"}:
                try:
                    out.append(base64.b64decode(v["b64"], validate=True))
                except ValueError:
                    raise InstanceError(f"{where}: feature {name!r}: bad base64") from None
            elif isinstance(v, str):
                out.append(v.encode())
            elif isinstance(v, int) and not isinstance(v, bool):
                out.append(str(v).encode())
            elif isinstance(v, float) and isinstance(value, (list, tuple)):
                # a list of numbers for a text list feature: a numeric sequence read from
                # CSV is text in the raw data, its elements parsed by the transform
                out.append(repr(v).encode())
            else:
                raise InstanceError(f"{where}: feature {name!r} is a string; got {v!r}")
    return out


def encode_example(instance: Dict[str, Any], spec: Dict[str, str], where: str = "instance",
                   ignore: Sequence[str] = ()) -> bytes:
    """A serialized ``tf.Example`` of one JSON instance, typed by ``spec``; ``None`` or an
    absent feature is missing (the transform graph imputes it)."""
    if not isinstance(instance, dict):
        raise InstanceError(f"{where}: expected an object of feature values, got "
                            f"{type(instance).__name__}")
    unknown = [k for k in instance if k not in spec and k not in ignore]
    if unknown:
        raise InstanceError(f"{where}: unknown feature(s) {', '.join(map(repr, unknown))}; "
                            f"the model takes {', '.join(sorted(spec))}")
    sizes = getattr(spec, "sizes", None)
    required = getattr(spec, "required", None)
    if required:
        missing = [k for k in sorted(required) if instance.get(k) is None]
        if missing:
            raise InstanceError(f"{where}: feature(s) {', '.join(map(repr, missing))} are "
                                "required (the model has no default for them)")
    entries = []
    for name in sorted(instance):
        if name not in spec:
            continue
        kind = spec[name]
        vals = _values(name, instance[name], kind, where)
        if sizes and name in sizes and len(vals) != sizes[name] and \
                (vals or name in required):
            want = sizes[name]
            got = (f"a list of {len(vals)}" if isinstance(instance[name], (list, tuple))
                   else "one value")
            if want == 1:
                raise InstanceError(f"{where}: feature {name!r} is a scalar (one value); "
                                    f"got {got}")
            raise InstanceError(f"{where}: feature {name!r} takes {want} values; got {got}")
        if not vals:
            continue
        if kind == "float":
            try:
                packed = struct.pack(f"<{len(vals)}f", *vals)
            except (OverflowError, struct.error):
                raise InstanceError(f"{where}: feature {name!r} is out of float32 range") \
                    from None
            feature = field(2, field(1, packed))
        elif kind == "int":
            if any(not -(1 << 63) <= v < (1 << 63) for v in vals):
                raise InstanceError(f"{where}: feature {name!r} is out of int64 range")
            feature = field(3, field(1, b"".join(varint(v) for v in vals)))
        else:
            feature = field(1, b"".join(field(1, v) for v in vals))
        entries.append(field(1, field(1, name.encode()) + field(2, feature)))
    return field(1, b"".join(entries)) if entries else b""


def encode_instances(instances, spec: Dict[str, str], ignore: Sequence[str] = (),
                     key_field: Optional[str] = None,
                     max_instances: Optional[int] = None) -> Tuple[List[bytes], Optional[list]]:
    """(serialized examples, keys or None) of an iterable of JSON instances."""
    examples: List[bytes] = []
    keys: Optional[list] = [] if key_field else None
    for i, x in enumerate(instances):
        if max_instances is not None and i >= max_instances:
            raise TooLarge(f"more than {max_instances} instances in one request "
                           "(serving.max_instances): send them in parts")
        examples.append(encode_example(x, spec, f"instances[{i}]", ignore))
        if keys is not None:
            keys.append(x.get(key_field))
    if not examples:
        raise InstanceError("instances is empty")
    return examples, keys
