"""BatchInferrer executor: a Beam job with one element per input shard; each worker loads
the model once and writes its shard's PredictionLogs (``infer.score_file``).

On Beam's default runner in its default mode (the direct runner, ``in_memory``: one
worker in this process, one bundle after another) the same work runs without the Beam
job (``infer.score_files``: the same shards, one after another, one model load), which
saves Beam's start-up; any other runner or mode runs the Beam job."""
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import apache_beam as beam
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from tfxkit.components.batch_inference import infer


def runs_in_process(beam_pipeline_args: List[str]) -> bool:
    """True when these Beam arguments run a job in this process, one bundle after another:
    no runner or the direct runner, in its ``in_memory`` mode (the default; it uses one
    worker whatever ``direct_num_workers`` says)."""
    from apache_beam.options.pipeline_options import (DirectOptions, PipelineOptions,
                                                      StandardOptions)

    options = PipelineOptions(list(beam_pipeline_args or []))
    runner = options.view_as(StandardOptions).runner
    if runner is not None and (not isinstance(runner, str)
                               or runner.lower() not in ("direct", "directrunner")):
        return False
    return options.view_as(DirectOptions).direct_running_mode == "in_memory"


def model_dir(model_uri: str) -> str:
    """A Trainer's Model keeps its SavedModel under Format-Serving; a pushed one at its root."""
    serving = os.path.join(model_uri, "Format-Serving")
    return serving if fileio.exists(serving) else model_uri


class _InferShard(beam.DoFn):
    def __init__(self, model_path: str, out_dir: str, shards: int, batch_size: int,
                 signature: str, chain: Dict[str, str]):
        self.model_path, self.out_dir, self.shards = model_path, out_dir, shards
        self.batch_size, self.signature, self.chain = batch_size, signature, chain
        self.examples = beam.metrics.Metrics.counter("tfxkit", "examples")

    def setup(self):
        # the model loads in a thread while the first batches are read and inflated
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="tfxkit-load")
        self.predictor = self._loader.submit(infer.Predictor, self.model_path, self.signature)

    def teardown(self):
        self._loader.shutdown(wait=True)

    def process(self, element):
        i, path, upstream = element
        n = infer.score_file(self.predictor, i, path, self.shards, self.out_dir,
                             self.batch_size, self.chain, upstream)
        self.examples.inc(n)
        yield n


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        params = json.loads(exec_properties["params"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        result = artifact_utils.get_single_instance(output_dict["inference_result"])
        upstream = input_dict.get("upstream") or []
        if upstream:  # a chain: read the upstream model's logs, add its outputs as features
            src = artifact_utils.get_single_instance(upstream)
            files = sorted(fileio.glob(os.path.join(src.uri, "prediction_logs-*")))
        else:
            examples = artifact_utils.get_single_instance(input_dict["examples"])
            files = []
            for split in params["splits"]:
                d = artifact_utils.get_split_uri([examples], split)
                files += sorted(f for f in fileio.glob(os.path.join(d, "*"))
                                if not os.path.basename(f).startswith("."))
        if not files:
            raise ValueError("no input records to score (no files in the examples artifact)")
        path = model_dir(model.uri)
        batch_size = params.get("batch_size", 4096)
        signature = params.get("signature", "serving_default")
        chain = params.get("chain") or {}
        if self._make_beam_pipeline_fn is None and runs_in_process(self._beam_pipeline_args):
            logging.info("scoring %d shard(s) with %s in this process (in-memory direct "
                         "runner: no Beam job)", len(files), path)
            rows = infer.score_files(path, files, result.uri, batch_size, signature, chain,
                                     bool(upstream))
        else:
            logging.info("scoring %d shard(s) with %s", len(files), path)
            rows = self._run_beam(files, path, result.uri, batch_size, signature, chain,
                                  bool(upstream))
        result.set_int_custom_property("rows", rows)
        result.set_string_custom_property("model_uri", model.uri)
        result.set_string_custom_property("signature", params.get("signature", "serving_default"))
        logging.info("scored %d examples", rows)

    def _run_beam(self, files: List[str], path: str, out_dir: str, batch_size: int,
                  signature: str, chain: Dict[str, str], upstream: bool) -> int:
        """The Beam job: one element per input file; returns the examples scored."""
        p = self._make_beam_pipeline()
        _ = (p | "Shards" >> beam.Create([(i, f, upstream) for i, f in enumerate(files)])
             | "Infer" >> beam.ParDo(_InferShard(path, out_dir, len(files), batch_size,
                                                  signature, chain)))
        run = p.run()
        run.wait_until_finish()
        counters = run.metrics().query(
            beam.metrics.MetricsFilter().with_name("examples"))["counters"]
        return sum(c.committed or 0 for c in counters)
