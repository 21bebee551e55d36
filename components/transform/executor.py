"""TFX's Transform executor, with the analysis and materialization run in this process
(``analyze.py``) instead of a Beam pipeline when the data is small.

Everything before and after is TFX's: reading the artifacts, the ``preprocessing_fn``,
the schema, the dataset lists, the output layout. Only ``_RunBeamImpl`` is replaced, and
only when nothing in it needs Beam: no analyzer cache, no statistics, tf.Example input,
output as TFRecords, and an analysis plan of operations ``analyze.py`` implements.
Otherwise, or when the plan needs something else, TFX's own Beam implementation runs.

The transform_graph artifact records which one ran as the custom property
``analysis_engine`` (``in_process`` or ``beam``, and ``in_process_fallback`` with why).
"""
from __future__ import annotations

import inspect
import logging
import os
import shutil
import threading
import time
from typing import Any, Dict, Optional

from tfx.components.transform import executor as tfx_transform

ENGINE_PROPERTY = "analysis_engine"
FALLBACK_PROPERTY = "analysis_engine_reason"
IN_PROCESS = "in_process"
BEAM = "beam"
# The examples analysed in process at most (bytes on disk, compressed); above it, Beam.
DEFAULT_MAX_BYTES = 512_000_000
# The analysis's input columns (decoded, Arrow bytes) kept in memory after its first pass
# at most; larger ones are read from disk again for every phase.
KEEP_MAX_BYTES = 512_000_000

log = logging.getLogger(__name__)


def _input_bytes(datasets) -> int:
    import tensorflow as tf

    paths = {p for d in datasets for p in tf.io.gfile.glob(d.file_pattern)}
    return sum(tf.io.gfile.stat(p).length for p in paths)  # a split in both lists: once


def why_not_in_process(a: Dict[str, Any], max_bytes: int) -> Optional[str]:
    """Why ``_RunBeamImpl``'s arguments ``a`` need Beam, or None (plain checks)."""
    from tfx.components.transform import labels
    from tfx.proto import example_gen_pb2

    if a["input_cache_dir"] or a["output_cache_dir"]:
        return "the analyzer cache is on"
    if not a["disable_statistics"] or a["per_set_stats_output_paths"]:
        return "Transform computes statistics"
    if a["raw_examples_data_format"] != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE:
        return "the examples are not tf.Examples"
    if a["materialization_format"] not in (None, labels.FORMAT_TFRECORD):
        return f"the transformed examples are written as {a['materialization_format']}"
    size = _input_bytes(list(a["analyze_data_list"]) + list(a["transform_data_list"]))
    if size > max_bytes:
        return f"{size / 1e6:.1f} MB of examples > {max_bytes / 1e6:.1f} MB"
    return None


_SWAP = threading.Lock()


class Executor(tfx_transform.Executor):
    """TFX's Transform executor; ``_RunBeamImpl`` in process for small data.

    TFX's ``Do`` builds its ``TransformProcessor`` by the module's name, so for the
    call the name is bound to ``Processor`` (under a lock; put back after)."""

    def Do(self, input_dict, output_dict, exec_properties):
        import json

        from tfxkit.components.transform import MAX_BYTES_KEY

        config = json.loads(exec_properties.get("custom_config") or "null") or {}
        max_bytes = int(config.get(MAX_BYTES_KEY, DEFAULT_MAX_BYTES))
        engine: Dict[str, Any] = {"engine": BEAM, "reason": None}
        processor = type("Processor", (Processor,), {"max_bytes": max_bytes,
                                                     "outcome": engine})
        with _SWAP:
            original = tfx_transform.TransformProcessor
            tfx_transform.TransformProcessor = processor
            try:
                result = super().Do(input_dict, output_dict, exec_properties)
            finally:
                tfx_transform.TransformProcessor = original
        for graph in output_dict.get("transform_graph", []):
            graph.set_string_custom_property(ENGINE_PROPERTY, engine["engine"])
            if engine["reason"]:
                graph.set_string_custom_property(FALLBACK_PROPERTY, engine["reason"])
        return result


class Processor(tfx_transform.TransformProcessor):
    """TFX's TransformProcessor; ``_RunBeamImpl`` in process when it can be."""

    max_bytes = DEFAULT_MAX_BYTES
    outcome: Dict[str, Any] = {}

    def _RunBeamImpl(self, *args, **kwargs):  # noqa: N802 (TFX's name)
        bound = inspect.signature(super()._RunBeamImpl).bind(*args, **kwargs)
        a = dict(bound.arguments)
        reason = why_not_in_process(a, self.max_bytes)
        if reason is None and self._GetTFXIOPassthroughKeys():
            reason = "passthrough keys"
        if reason is None:
            from tfxkit.components.transform import analyze

            reason = analyze.supported_here()
        if reason is None:
            try:
                self._run_in_process(a)
                self.outcome.update(engine=IN_PROCESS, reason=None)
                return tfx_transform._Status.OK()
            except _Fallback as e:
                reason = str(e)
        if reason:
            log.info("Transform runs Beam: %s", reason)
        self.outcome.update(engine=BEAM, reason=reason)
        return super()._RunBeamImpl(*args, **kwargs)

    def _run_in_process(self, a: Dict[str, Any]) -> None:
        import tensorflow_transform as tft
        import tensorflow_transform.beam as tft_beam
        from tensorflow_transform.tf_metadata import metadata_io
        from tfx_bsl.tfxio import dataset_options

        from tfxkit.components.transform import analyze

        started = time.monotonic()
        preprocessing_fn = a["preprocessing_fn"]
        tf1 = a["force_tf_compat_v1"]
        analyze_list, transform_list = a["analyze_data_list"], a["transform_data_list"]
        self._AssertSameTFXIOSchema(analyze_list)
        typespecs = analyze_list[0].tfxio.TensorAdapter().OriginalTypeSpecs()
        analyze_columns = tft.get_analyze_input_columns(
            preprocessing_fn, typespecs, force_tf_compat_v1=tf1)
        transform_columns = tft.get_transform_input_columns(
            preprocessing_fn, typespecs, force_tf_compat_v1=tf1)
        for d in analyze_list:
            d.tfxio = d.tfxio.Project(analyze_columns)
        self._AssertSameTFXIOSchema(analyze_list)
        analyze_config = analyze_list[0].tfxio.TensorAdapterConfig()
        for d in transform_list:
            d.tfxio = d.tfxio.Project(transform_columns)
        batch_size = self._GetDesiredBatchSize(a["raw_examples_data_format"],
                                               a["input_dataset_metadata"].schema) or 1000
        options = dataset_options.RecordBatchesOptions(
            batch_size=batch_size, drop_final_batch=False, num_epochs=1, shuffle=False)

        # The analysis reads its columns once per phase: kept in memory after the first
        # pass while they hold at most KEEP_MAX_BYTES (Arrow), else read again each time.
        # The transform is one pass per split, batch by batch to the output file.
        def analysis_input(d):
            return analyze.Reread(lambda: d.tfxio.RecordBatches(options),
                                  keep_bytes=KEEP_MAX_BYTES)

        out = a["transform_output_path"]
        with tft_beam.Context(temp_dir=a["temp_path"], desired_batch_size=batch_size,
                              passthrough_keys=self._GetTFXIOPassthroughKeys(),
                              use_deep_copy_optimization=True, force_tf_compat_v1=tf1,
                              save_options=a["save_options"]):
            use_tf1 = tft_beam.Context.get_use_tf_compat_v1()
            batches = {d.dataset_key: analysis_input(d) for d in analyze_list}
            try:
                result = analyze.analyze(preprocessing_fn, batches, analyze_config, use_tf1,
                                         a["save_options"])
            except analyze.Unsupported as e:
                raise _Fallback(f"in-process analysis does not run {e}") from e
            del batches
            # outputs, as tft_beam.WriteMetadata / WriteTransformFn / _EncodeAndWrite
            # write them; the transformed examples one batch at a time
            metadata_io.write_metadata(
                a["input_dataset_metadata"],
                os.path.join(out, tft.TFTransformOutput.RAW_METADATA_DIR))
            _write_transform_fn(out, result)
            if a["materialization_format"] is not None:
                for d in transform_list:
                    _write_examples(d.materialize_output_path, result.metadata.schema,
                                    analyze.transform_batches(
                                        result.transform_fn_dir, result.metadata,
                                        d.tfxio.RecordBatches(options),
                                        d.tfxio.TensorAdapterConfig(), use_tf1))
        log.info("Transform analysed and transformed in process in %.2f s",
                 time.monotonic() - started)


class _Fallback(Exception):
    pass


def _write_transform_fn(out: str, result) -> None:
    import json

    import tensorflow as tf
    import tensorflow_transform as tft
    from tensorflow_transform.tf_metadata import metadata_io

    metadata_dir = os.path.join(out, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR)
    metadata_io.write_metadata(result.metadata, metadata_dir)
    if result.asset_map:
        with tf.io.gfile.GFile(os.path.join(metadata_dir, tft.TFTransformOutput.ASSET_MAP),
                               "w") as f:
            f.write(json.dumps(result.asset_map))
    target = os.path.join(out, tft.TFTransformOutput.TRANSFORM_FN_DIR)
    if tf.io.gfile.exists(target):
        tf.io.gfile.rmtree(target)
    if os.path.isdir(result.transform_fn_dir) and not target.startswith(("gs://", "s3://")):
        shutil.copytree(result.transform_fn_dir, target)
    else:  # pragma: no cover - remote output paths
        from tensorflow_transform.beam.tft_beam_io import transform_fn_io

        tf.io.gfile.rename(transform_fn_io._copy_tree_to_unique_temp_dir(
            result.transform_fn_dir, out + "_tmp"), target, overwrite=True)


def _write_examples(prefix: str, schema, batches) -> None:
    """The transformed examples as one gzipped TFRecord file, named as Beam's
    ``WriteToTFRecord(prefix, file_name_suffix='.gz')`` names a single shard."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    encoder = example_coder.RecordBatchToExamplesEncoder(schema)
    path = f"{prefix}-00000-of-00001.gz"
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for record_batch, _ in batches:
            for example in encoder.encode(record_batch):
                w.write(example)
