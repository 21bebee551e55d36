"""Where the TFLite model lives: ``tflite/model.tflite`` and ``tflite/tflite.json`` in the
InfraValidator's blessing folder (written by the check) and in the registry's version
folder (copied from there by the RegistryPusher; outside the content hash, like the model
card: the content hash identifies the SavedModel the .tflite was converted from)."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, Optional

DIR = "tflite"
MODEL = "model.tflite"
INFO = "tflite.json"


def info_record(info: Dict[str, Any]) -> Dict[str, Any]:
    """What the registry's index keeps of a version's TFLite model: the file, its size and
    sha256, the signature it takes, and the check's figures."""
    keep = ("signature", "transform", "select_tf_ops", "size_bytes", "sha256",
            "max_abs_diff", "rows", "tolerance")
    return {"path": f"{DIR}/{MODEL}", **{k: info[k] for k in keep if k in info}}


def read_dir(folder: str, read=None) -> Optional[Dict[str, bytes]]:
    """The TFLite files under ``folder/tflite/`` as ``{"tflite/model.tflite": bytes,
    "tflite/tflite.json": bytes}``, or None when there is no model there. ``read(path)``
    returns a file's bytes (default: local files)."""
    read = read or _read_local
    out = {}
    for name in (MODEL, INFO):
        data = read(os.path.join(folder, DIR, name))
        if data is None:
            return None
        out[f"{DIR}/{name}"] = data
    info = json.loads(out[f"{DIR}/{INFO}"])
    digest = hashlib.sha256(out[f"{DIR}/{MODEL}"]).hexdigest()
    if info.get("sha256") != digest:
        raise ValueError(f"{os.path.join(folder, DIR, MODEL)}: sha256 {digest} differs from "
                         f"the {INFO} beside it ({info.get('sha256')})")
    return out


def _read_local(path: str) -> Optional[bytes]:
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()
