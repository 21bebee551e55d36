"""TFX's StatisticsGen executor, computing in this process (``statistics.py``) when Beam
would run in memory anyway and the examples are small.

TFX's executor is used as it is for everything else: statistics options, a schema input,
sample rates, excluded splits, sharded output, a non-tf.Example payload, another runner
or mode, examples above the limit (the executor spec's extra flag
``--tfxkit_in_process_max_bytes``), and a feature with more distinct values than TFDV's
in-memory sketches count exactly. The output artifact gets the properties TFX's sets and
a custom property ``statistics_engine`` (``in_process`` or ``beam``, with
``statistics_engine_reason`` when in-process was asked for and Beam ran).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional

from tfx.components.statistics_gen import executor as tfx_statistics_gen

ENGINE_PROPERTY = "statistics_engine"
REASON_PROPERTY = "statistics_engine_reason"
IN_PROCESS = "in_process"
BEAM = "beam"

log = logging.getLogger(__name__)


def max_bytes(extra_flags: Optional[List[str]]) -> int:
    """The limit from the executor's extra flags (0: none given, so never in process)."""
    from tfxkit.components.statistics_gen import MAX_BYTES_FLAG

    for flag in extra_flags or []:
        name, _, value = str(flag).partition("=")
        if name == MAX_BYTES_FLAG:
            return int(value)
    return 0


def why_not_in_process(input_dict, exec_properties, beam_pipeline_args, limit) -> Optional[str]:
    """Why TFX's executor (Beam) computes these statistics, or None."""
    from tfx.components.util import examples_utils
    from tfx.proto import example_gen_pb2
    from tfx.types import artifact_utils

    from tfxkit.components.common.runner import in_memory

    if limit <= 0:
        return "no in-process limit given"
    if not in_memory(beam_pipeline_args):
        return "Beam does not run in memory"
    for key in ("stats_options_json", "sample_rate_by_split"):
        if exec_properties.get(key) not in (None, "", "null", "{}"):
            return f"{key} is set"
    if exec_properties.get("exclude_splits") not in (None, "", "null", "[]"):
        return "exclude_splits is set"
    if exec_properties.get("write_sharded_output"):
        return "sharded output"
    if input_dict.get("schema"):
        return "a schema is given"
    examples = artifact_utils.get_single_instance(input_dict["examples"])
    if examples.has_custom_property(examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME):
        return "custom split patterns"
    if (examples_utils.get_payload_format(examples)
            != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE):
        return "the examples are not tf.Examples"
    size = _bytes(examples.uri)
    if size > limit:
        return f"{size / 1e6:.1f} MB of examples > {limit / 1e6:.1f} MB"
    return None


def _bytes(uri: str) -> int:
    import tensorflow as tf

    total = 0
    for root, _, files in tf.io.gfile.walk(uri):
        for f in files:
            total += tf.io.gfile.stat(os.path.join(root, f)).length
    return total


class Executor(tfx_statistics_gen.Executor):
    """TFX's StatisticsGen executor; in process for small data on the in-memory runner."""

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        from tfx.types import artifact_utils

        out = artifact_utils.get_single_instance(output_dict["statistics"])
        limit = max_bytes(self._extra_flags)
        reason = why_not_in_process(input_dict, exec_properties, self._beam_pipeline_args,
                                    limit)
        if reason is None:
            reason = self._in_process(input_dict, out)
        if reason is None:
            out.set_string_custom_property(ENGINE_PROPERTY, IN_PROCESS)
            return
        log.info("StatisticsGen runs Beam: %s", reason)
        super().Do(input_dict, output_dict, exec_properties)
        out.set_string_custom_property(ENGINE_PROPERTY, BEAM)
        if limit:
            out.set_string_custom_property(REASON_PROPERTY, reason)

    def _in_process(self, input_dict, out) -> Optional[str]:
        """Computes and writes every split's statistics and sets the artifact's
        properties as TFX's executor does; returns why not (nothing written), or None."""
        import tensorflow_data_validation as tfdv
        from tfx.components.util import tfxio_utils
        from tfx.types import artifact_utils
        from tfx.utils import io_utils, json_utils, stats_utils

        from tfxkit.components.statistics_gen import statistics

        examples = artifact_utils.get_single_instance(input_dict["examples"])
        splits = artifact_utils.decode_split_names(examples.split_names)
        if not splits:
            return "no splits"
        computed = {}
        for split in splits:
            tfxio = tfxio_utils.get_split_tfxio(
                examples=[examples], split=split,
                telemetry_descriptors=tfx_statistics_gen._TELEMETRY_DESCRIPTORS)
            try:
                stats = statistics.split_statistics(tfxio, tfdv.StatsOptions())
            except statistics.TooManyValues as e:
                return f"split {split}: {e}"
            inexact = statistics.sketch_inexact(stats)
            if inexact:
                return f"split {split}: {inexact}"
            computed[split] = stats
        out.split_names = artifact_utils.encode_split_names(splits)
        out.span = examples.span
        out.set_string_custom_property(tfx_statistics_gen.STATS_DASHBOARD_LINK,
                                       stats_utils.generate_stats_dashboard_link(out))
        out.set_json_value_custom_property(
            tfx_statistics_gen.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
            json_utils.dumps({split: 1.0 for split in splits}))
        for split, stats in computed.items():
            path = os.path.join(artifact_utils.get_split_uri([out], split),
                                tfx_statistics_gen.DEFAULT_FILE_NAME)
            io_utils.write_bytes_file(path, stats.SerializeToString())
        return None
