"""The ML Metadata connection of a config, in one place.

Every reader and writer of MLMD (pipelines, the CLI's summaries, batch inference's model
lookup, lineage) gets its connection here, so a config's ``metadata:`` section decides
where metadata lives for all of them. Imports ml_metadata only when called.
"""
from __future__ import annotations

import os

from tfxkit.pipelines.config import PipelineConfig


def connection_config(cfg: PipelineConfig, readonly: bool = False):
    """The ``metadata_store_pb2.ConnectionConfig`` of ``cfg`` (SQLite by default)."""
    from ml_metadata.proto import metadata_store_pb2

    conn = metadata_store_pb2.ConnectionConfig()
    conn.sqlite.filename_uri = cfg.metadata_path
    conn.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if readonly
        else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
    return conn


def exists(cfg: PipelineConfig) -> bool:
    """Whether the metadata store exists yet (a SQLite file; a server always does)."""
    return os.path.isfile(cfg.metadata_path)


def prepare(cfg: PipelineConfig) -> None:
    """Whatever must exist before a pipeline writes metadata (the SQLite file's folder)."""
    os.makedirs(os.path.dirname(cfg.metadata_path), exist_ok=True)


def open_store(cfg: PipelineConfig, readonly: bool = False):
    """An ``ml_metadata`` MetadataStore on ``cfg``'s metadata."""
    from ml_metadata.metadata_store import metadata_store

    return metadata_store.MetadataStore(connection_config(cfg, readonly=readonly))
