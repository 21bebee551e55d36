"""The data stage of the training pipeline: ingestion and validation.

ExampleGen (``example_gen``: ArrowExampleGen, ImportExampleGen or BigQueryExampleGen) ->
StatisticsGen -> SchemaGen (or the curated schema through an Importer) -> ExampleValidator
-> ValidationGate, and with ``data.rolling_window`` the SpanWindow resolver whose examples
the training stage reads (``data_nodes``).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from tfxkit.pipelines.component_ids import (EXAMPLE_GEN, EXAMPLE_VALIDATOR, LOCAL,
                                            SCHEMA_GEN, SCHEMA_IMPORTER, SPAN_WINDOW,
                                            STATISTICS_GEN, VALIDATION_GATE)
from tfxkit.pipelines.config import PipelineConfig, numeric_columns


def file_sha(path: str) -> str:
    """The first 16 hex digits of a file's SHA-256 (content-addressed folders, code markers)."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def remote_schema_uri(cfg: PipelineConfig) -> str:
    """Where a remote run imports the curated schema from (``tfxkit deploy`` uploads it):
    a content-addressed folder under ``deploy.pipeline_root``."""
    src = cfg.resolve(cfg.validation.schema_file)
    return posixpath.join(cfg.deploy.pipeline_root, cfg.name, "curated_schema", file_sha(src))


def split_input(path: str) -> Tuple[str, str]:
    """(input_base, pattern) for a file, a folder, or a glob (or span pattern)."""
    if os.path.isdir(path):
        return path, "*"
    if any(ch in path for ch in "*?[{"):
        parts = path.split(os.sep)
        i = next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?[{"))
        return os.sep.join(parts[:i]) or os.sep, os.sep.join(parts[i:])
    return os.path.dirname(path), os.path.basename(path)


def bigquery_split_queries(query: str, split) -> Dict[str, str]:
    """Per-split BigQuery queries (Waze's BigQuery-based train/eval split): a
    FARM_FINGERPRINT hash bucket of the key (or of the whole row), or the predicates."""
    if split.predicates:
        ev = split.predicates["eval"]
        return {"train": f"SELECT * FROM ({query}) WHERE NOT ({ev})",
                "eval": f"SELECT * FROM ({query}) WHERE ({ev})"}
    total = split.train + split.eval
    what = f"CAST(`{split.key}` AS STRING)" if split.key else "TO_JSON_STRING(t)"
    bucket = f"MOD(ABS(FARM_FINGERPRINT({what})), {total})"
    return {"train": f"SELECT * FROM ({query}) AS t WHERE {bucket} < {split.train}",
            "eval": f"SELECT * FROM ({query}) AS t WHERE {bucket} >= {split.train}"}


def example_gen(cfg: PipelineConfig):
    """ArrowExampleGen (DuckDB + tfx_bsl) for CSV and Parquet; ImportExampleGen for TFRecord;
    BigQueryExampleGen with a generated per-split query for BigQuery."""
    if cfg.data.source.kind == "bigquery":
        return _bigquery_example_gen(cfg)
    base, pattern = split_input(cfg.resolve(cfg.data.source.path))
    if cfg.data.source.kind in ("csv", "parquet"):
        return _arrow_example_gen(cfg, base, pattern)
    return _import_example_gen(cfg, base, pattern)


def _bigquery_example_gen(cfg: PipelineConfig):
    from tfx.extensions.google_cloud_big_query.example_gen.component import (
        BigQueryExampleGen)
    from tfx.proto import example_gen_pb2 as eg

    queries = bigquery_split_queries(cfg.data.source.bigquery.query, cfg.data.split)
    return BigQueryExampleGen(input_config=eg.Input(splits=[
        eg.Input.Split(name=name, pattern=q) for name, q in queries.items()])
    ).with_id(EXAMPLE_GEN)


def _arrow_example_gen(cfg: PipelineConfig, base: str, pattern: str):
    from tfxkit.components.example_gen.component import ArrowExampleGen

    split = cfg.data.split
    predicates = list(split.predicates.items()) if split.predicates else None
    if predicates:  # eval first when both could match (eval: "<cond>", train: "true")
        predicates.sort(key=lambda kv: kv[0] != "eval")
    range_config = None
    if cfg.data.span is not None:
        from tfx.proto import range_config_pb2

        range_config = range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(
                start_span_number=cfg.data.span, end_span_number=cfg.data.span))
    return ArrowExampleGen(
        input_base=base, pattern=pattern, kind=cfg.data.source.kind, range_config=range_config,
        splits=[("train", split.train), ("eval", split.eval)], key=split.key,
        query=cfg.data.source.query, predicates=predicates,
        on_null_key=split.on_null_key, on_bad_value=cfg.data.on_bad_value,
        numeric=sorted(numeric_columns(cfg))).with_id(EXAMPLE_GEN)


def _import_example_gen(cfg: PipelineConfig, base: str, pattern: str):
    from tfx.components.example_gen.import_example_gen.component import ImportExampleGen
    from tfx.proto import example_gen_pb2 as eg

    split = cfg.data.split
    split_config = eg.SplitConfig(
        splits=[eg.SplitConfig.Split(name="train", hash_buckets=split.train),
                eg.SplitConfig.Split(name="eval", hash_buckets=split.eval)])
    if split.key:
        split_config.partition_feature_name = split.key
    return ImportExampleGen(
        input_base=base, input_config=eg.Input(splits=[eg.Input.Split(name="all",
                                                                      pattern=pattern)]),
        output_config=eg.Output(split_config=split_config)).with_id(EXAMPLE_GEN)


def _curated_schema_dir(cfg: PipelineConfig) -> str:
    """Copies the curated schema into a content-addressed folder (what an Importer
    reads: ``schema.pbtxt``), so an edit to it is a new artifact and an unchanged
    schema stays cached."""
    src = cfg.resolve(cfg.validation.schema_file)
    dst = os.path.join(cfg.pipeline_root, "curated_schema", file_sha(src))
    if not os.path.isfile(os.path.join(dst, "schema.pbtxt")):
        os.makedirs(dst, exist_ok=True)
        tmp = os.path.join(dst, ".schema.pbtxt.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(dst, "schema.pbtxt"))
    return dst


@dataclass
class DataNodes:
    """The data stage's nodes, and the channels the later stages read."""
    example_gen: Any
    statistics_gen: Any
    schema_node: Any  # SchemaGen, or the Importer of the curated schema
    schema: Any  # its schema channel
    validator: Any
    gate: Any
    window: Optional[Any] = None  # the SpanWindow resolver (data.rolling_window)

    @property
    def examples(self):
        """This run's examples (ExampleGen's)."""
        return self.example_gen.outputs["examples"]

    @property
    def training_examples(self):
        """What the model learns from: the rolling window's spans, else this run's."""
        return self.window.outputs["examples"] if self.window else self.examples

    def nodes(self) -> List[Any]:
        return [self.example_gen, self.statistics_gen, self.schema_node, self.validator,
                self.gate, self.window]


def data_nodes(cfg: PipelineConfig, target: str = LOCAL) -> DataNodes:
    """The data stage of the training pipeline for ``target`` (``LOCAL``, ``vertex``,
    ``kubeflow``: the curated schema is imported from the remote root there)."""
    # Direct imports, not tfx.v1: that one also imports the Google Cloud extensions (~10 s).
    from tfxkit.pipelines.compat import tfx_components

    ExampleValidator, StatisticsGen = tfx_components("ExampleValidator", "StatisticsGen")
    from tfxkit.components.validation_gate.component import ValidationGate

    gen = example_gen(cfg)
    examples = gen.outputs["examples"]
    statistics_gen = StatisticsGen(examples=examples).with_id(STATISTICS_GEN)
    spec = statistics_executor(cfg, target)
    if spec is not None:
        statistics_gen.executor_spec = spec
    schema_node, schema = _schema(cfg, target, statistics_gen)
    validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema).with_id(EXAMPLE_VALIDATOR)
    gate = ValidationGate(anomalies=validator.outputs["anomalies"],
                          on_anomalies=cfg.validation.on_anomalies).with_id(VALIDATION_GATE)
    return DataNodes(gen, statistics_gen, schema_node, schema, validator, gate,
                     _span_window(cfg, target, gen))


def statistics_executor(cfg: PipelineConfig, target: str):
    """Small data on the local direct runner in memory: tfxkit's StatisticsGen executor
    (``components/statistics_gen``: TFDV's generators in its own process), told
    ``beam.in_process_max_mb`` by an executor flag; None (TFX's executor) otherwise."""
    from tfxkit.pipelines.beam_args import transform_in_process_bytes

    limit = transform_in_process_bytes(cfg) if target == LOCAL else 0
    if not limit:
        return None
    from tfx.dsl.components.base import executor_spec

    from tfxkit.components.statistics_gen import MAX_BYTES_FLAG
    from tfxkit.components.statistics_gen.executor import Executor

    spec = executor_spec.BeamExecutorSpec(Executor)
    spec.add_extra_flags([f"{MAX_BYTES_FLAG}={limit}"])
    return spec


def _schema(cfg: PipelineConfig, target: str, statistics_gen) -> Tuple[Any, Any]:
    """(node, schema channel): the curated schema's Importer, else SchemaGen."""
    from tfxkit.pipelines.compat import tfx_components

    (SchemaGen,) = tfx_components("SchemaGen")
    from tfx.dsl.components.common.importer import Importer
    from tfx.types import standard_artifacts

    if cfg.validation.schema_file:
        schema_node = Importer(source_uri=(_curated_schema_dir(cfg) if target == LOCAL
                                           else remote_schema_uri(cfg)),
                               artifact_type=standard_artifacts.Schema
                               ).with_id(SCHEMA_IMPORTER)
        return schema_node, schema_node.outputs["result"]
    # Shapes are not inferred: every feature may be absent, so a missing value
    # parses as an empty sparse value (training and serving) instead of failing.
    schema_node = SchemaGen(statistics=statistics_gen.outputs["statistics"],
                            infer_feature_shape=False).with_id(SCHEMA_GEN)
    return schema_node, schema_node.outputs["schema"]


def _span_window(cfg: PipelineConfig, target: str, gen):
    """The SpanWindow resolver of ``data.rolling_window`` (None without one): the latest
    spans, resolved after this run's ingestion."""
    if cfg.data.rolling_window and target != LOCAL:
        raise ValueError("data.rolling_window: the Kubeflow V2 compiler supports no custom "
                         "resolver strategy")
    if not cfg.data.rolling_window:
        return None
    from tfx.dsl.components.common.resolver import Resolver
    from tfx.types import Channel, standard_artifacts

    from tfxkit.components.span_window.strategy import LatestSpansStrategy

    window = Resolver(
        strategy_class=LatestSpansStrategy,
        # a past span (data.span, tfxkit run --span N): the window ends at that span
        config={"num_spans": cfg.data.rolling_window,
                **({} if cfg.data.span is None else {"max_span": cfg.data.span})},
        examples=Channel(type=standard_artifacts.Examples,
                         producer_component_id=EXAMPLE_GEN, output_key="examples"),
    ).with_id(SPAN_WINDOW)
    window.add_upstream_node(gen)  # resolve after this run's ingestion
    return window
