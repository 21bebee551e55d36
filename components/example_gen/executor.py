"""ArrowExampleGen executor: unpacks the exec properties and calls ``ingest.ingest``."""
import json
import os
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs as specs
from tfx.utils import proto_utils

from tfxkit.components.example_gen import ingest


def _proto(json_text, proto):
    proto_utils.json_to_proto(json_text, proto)
    return proto


def check_span_columns(params, base: str, files, span) -> None:
    """A span's columns must match the previous span's (dropped, renamed, retyped)."""
    pattern = params.get("pattern") or ""
    if span is None or "{" not in pattern:
        return
    wildcard = pattern
    for token in ("{SPAN}", "{YYYY}", "{MM}", "{DD}", "{VERSION}"):
        wildcard = wildcard.replace(token, "*")
    older = {}
    for f in fileio.glob(os.path.join(base, wildcard)):
        s = ingest.span_of(pattern, os.path.relpath(f, base))
        if s is not None and s < int(span):
            older.setdefault(s, []).append(f)
    if not older:
        return
    prev_span = max(older)
    kind = params.get("kind", "csv")
    drift = ingest.schema_drift(ingest.columns_of(kind, sorted(older[prev_span])),
                                ingest.columns_of(kind, files))
    if drift:
        raise ingest.IngestError(
            f"span {span} ({files[0]}) does not match span {prev_span}: " + "; ".join(drift)
            + ". Fix the data, or ingest it under a new source pattern.")


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(output_dict[specs.EXAMPLES_KEY])
        input_config = _proto(exec_properties[specs.INPUT_CONFIG_KEY], example_gen_pb2.Input())
        output_config = _proto(exec_properties[specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output())
        params = json.loads(exec_properties.get("ingest") or "{}")
        base = exec_properties[specs.INPUT_BASE_KEY]
        [split_in] = input_config.splits
        files = sorted(f for f in fileio.glob(os.path.join(base, split_in.pattern))
                       if not fileio.isdir(f))
        if not files:
            raise ingest.IngestError(f"no input file matches {os.path.join(base, split_in.pattern)}")
        check_span_columns(params, base, files, exec_properties.get("span"))
        sc = output_config.split_config
        splits = [(s.name, s.hash_buckets) for s in sc.splits]
        predicates = params.get("predicates")
        result = ingest.ingest(
            files, params.get("kind", "csv"), examples.uri, splits=splits,
            key=sc.partition_feature_name or None, query=params.get("query"),
            predicates=[tuple(p) for p in predicates] if predicates else None,
            on_null_key=params.get("on_null_key", "fail"))
        names = list(result.rows)
        examples.split_names = artifact_utils.encode_split_names(names)
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        for name, n in result.rows.items():
            examples.set_int_custom_property(f"rows_{name}", n)
        examples.set_int_custom_property("rows_rejected", sum(result.rejected.values()))
        examples.set_string_custom_property("rejections", json.dumps(result.rejected))
        examples.set_string_custom_property("input_files", json.dumps(files[:1000]))
        logging.info("ingested %s rows: %s; rejected %s", result.total, result.rows,
                     result.rejected)
