"""A SavedModel's content hash, the registry's test of "the same model"."""
from __future__ import annotations

import hashlib

from tfxkit.components.registry import filesystem
from tfxkit.components.registry.errors import RegistryError
from tfxkit.components.registry.layout import EXTRA_DIRS


def content_hash(model_dir: str) -> str:
    """sha256 over the SavedModel's files: each relative path and its bytes, sorted by
    path (the same model copied anywhere hashes the same). A version folder's model card
    (``model_card/``) and TFLite model (``tflite/``, converted from the SavedModel), added
    by the registry at publish, are not part of the model: the hash of a version folder
    equals the hash of the SavedModel it was copied from (the .tflite's own sha256 is in
    the version's record)."""
    fs = filesystem.fs_for(model_dir)
    if not fs.isdir(model_dir):
        raise RegistryError(f"{model_dir}: no such model folder")
    h = hashlib.sha256()
    n = 0
    for rel, full in fs.walk_files(model_dir):
        if rel.split("/", 1)[0] in EXTRA_DIRS:
            continue
        h.update(rel.encode() + b"\0")
        if isinstance(fs, filesystem.LocalFS):
            fh = hashlib.sha256()
            with open(full, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    fh.update(chunk)
            h.update(fh.digest())
        else:
            h.update(hashlib.sha256(fs.read(full)).digest())
        n += 1
    if n == 0:
        raise RegistryError(f"{model_dir}: the model folder is empty")
    return h.hexdigest()
