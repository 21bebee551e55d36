"""ArrowExampleGen executor: unpacks the exec properties and calls ``ingest.ingest``."""
import contextlib
import json
import os
import tempfile
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
    previous, current = ingest.columns_of(kind, sorted(older[prev_span])), \
        ingest.columns_of(kind, files)
    if params.get("on_bad_value") == "reject":  # such a column is cleaned as it is read
        for c in params.get("numeric") or ():
            if current.get(c) == "VARCHAR" and c in previous:
                current[c] = previous[c]
    drift = ingest.schema_drift(previous, current)
    if drift:
        raise ingest.IngestError(
            f"span {span} ({files[0]}) does not match span {prev_span}: " + "; ".join(drift)
            + ". Fix the data, or ingest it under a new source pattern.")


def _remote(path: str) -> bool:
    return "://" in path


@contextlib.contextmanager
def staged(files: List[str], out_uri: str):
    """DuckDB and the writer work on local files: on Kubeflow / Vertex the inputs and the
    artifact are remote (gs://), so they are copied to a local folder first and the
    written splits are copied up after a successful ingest (a failed one uploads
    nothing). Local paths pass through untouched."""
    if not any(map(_remote, files)) and not _remote(out_uri):
        yield files, out_uri
        return
    with tempfile.TemporaryDirectory(prefix="tfxkit-ingest-") as tmp:
        local_files = []
        for i, f in enumerate(files):
            if _remote(f):
                dst = os.path.join(tmp, "in", f"{i:05d}-{os.path.basename(f)}")
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                fileio.copy(f, dst, overwrite=True)
                f = dst
            local_files.append(f)
        out_dir = os.path.join(tmp, "out") if _remote(out_uri) else out_uri
        yield local_files, out_dir
        if out_dir != out_uri:
            for root, _, names in os.walk(out_dir):
                for name in names:
                    src = os.path.join(root, name)
                    dst = out_uri.rstrip("/") + "/" + os.path.relpath(src, out_dir).replace(
                        os.sep, "/")
                    fileio.makedirs(os.path.dirname(dst))
                    fileio.copy(src, dst, overwrite=True)


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
        with staged(files, examples.uri) as (local_files, out_dir):
            result = ingest.ingest(
                local_files, params.get("kind", "csv"), out_dir, splits=splits,
                key=sc.partition_feature_name or None, query=params.get("query"),
                predicates=[tuple(p) for p in predicates] if predicates else None,
                on_null_key=params.get("on_null_key", "fail"),
                numeric=params.get("numeric") or (),
                on_bad_value=params.get("on_bad_value", "fail"))
        names = list(result.rows)
        examples.split_names = artifact_utils.encode_split_names(names)
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        for name, n in result.rows.items():
            examples.set_int_custom_property(f"rows_{name}", n)
        examples.set_int_custom_property("rows_rejected", sum(result.rejected.values()))
        examples.set_string_custom_property("rejections", json.dumps(result.rejected))
        bad = sum(n for why, n in result.rejected.items() if why.startswith(ingest.BAD_VALUE))
        # not rows_*: those name the splits (lineage, the report, the registry read them so)
        examples.set_int_custom_property("bad_value_rows_rejected", bad)
        examples.set_string_custom_property("input_files", json.dumps(files[:1000]))
        logging.info("ingested %s rows: %s; rejected %s", result.total, result.rows,
                     result.rejected)
        if bad:
            logging.warning("rejected %s row(s) with a value that is not a number "
                            "(data.on_bad_value: reject): %s", bad, result.rejected)
