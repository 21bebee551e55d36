"""ArrowExampleGen: tfxkit's default ExampleGen for CSV, Parquet and SQL over them.

DuckDB reads, splits (hash buckets on a key, or SQL predicates) and streams Arrow
batches; tfx_bsl's C++ encoder writes gzipped tf.Example TFRecords in TFX's artifact
layout, so every standard downstream component reads them unchanged. Spans and
versions in the input pattern resolve as in stock TFX; the cache fingerprint is a
hash of the input files' contents. Row counts per split and rejected rows (with the
reason: a null split key, or with ``on_bad_value: reject`` a value that is not a number in
a numeric column) are recorded on the output artifact.
"""
import json
from typing import Dict, List, Optional, Sequence, Tuple

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.example_gen import driver, executor


class ArrowExampleGenSpec(types.ComponentSpec):
    PARAMETERS = {
        specs.INPUT_BASE_KEY: ExecutionParameter(type=str),
        specs.INPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Input),
        specs.OUTPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Output),
        specs.RANGE_CONFIG_KEY: ExecutionParameter(type=range_config_pb2.RangeConfig,
                                                   optional=True),
        "ingest": ExecutionParameter(type=str),  # JSON: kind, query, predicates, on_null_key,
        # and with on_bad_value: reject, the numeric columns
    }
    INPUTS: Dict[str, ChannelParameter] = {}
    OUTPUTS = {specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class ArrowExampleGen(base_component.BaseComponent):
    SPEC_CLASS = ArrowExampleGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
    DRIVER_CLASS = driver.ContentFingerprintDriver

    def __init__(self, input_base: str, pattern: str = "*", kind: str = "csv",
                 splits: Sequence[Tuple[str, int]] = (("train", 8), ("eval", 2)),
                 key: Optional[str] = None, query: Optional[str] = None,
                 predicates: Optional[List[Tuple[str, str]]] = None,
                 on_null_key: str = "fail",
                 range_config: Optional[range_config_pb2.RangeConfig] = None,
                 numeric: Sequence[str] = (), on_bad_value: str = "fail"):
        if kind not in ("csv", "parquet"):
            raise ValueError(f"kind must be csv or parquet, got {kind!r}")
        if on_null_key not in ("fail", "reject"):
            raise ValueError(f"on_null_key must be fail or reject, got {on_null_key!r}")
        if on_bad_value not in ("fail", "reject"):
            raise ValueError(f"on_bad_value must be fail or reject, got {on_bad_value!r}")
        names = [n for n, _ in (predicates or splits)]
        split_config = example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=b if not predicates else 1)
            for n, b in (splits if not predicates else [(n, 1) for n in names])])
        if key and not predicates:
            split_config.partition_feature_name = key
        params = {"kind": kind, "query": query, "on_null_key": on_null_key, "pattern": pattern,
                  "predicates": [list(p) for p in predicates] if predicates else None}
        if on_bad_value == "reject" and numeric:  # absent otherwise: cache keys stay
            params.update(on_bad_value="reject", numeric=sorted(set(numeric)))
        super().__init__(spec=ArrowExampleGenSpec(
            input_base=input_base,
            input_config=example_gen_pb2.Input(
                splits=[example_gen_pb2.Input.Split(name="all", pattern=pattern)]),
            output_config=example_gen_pb2.Output(split_config=split_config),
            range_config=range_config,
            ingest=json.dumps(params, sort_keys=True),
            examples=types.Channel(type=standard_artifacts.Examples)))
