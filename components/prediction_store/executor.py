"""PredictionStorer executor: reads the InferenceResult's PredictionLogs and writes one
run to the store; the run becomes current in one step (see store.py)."""
import json
import os
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from tfxkit.components.common.records import iter_records
from tfxkit.components.prediction_store import rows as rows_lib
from tfxkit.components.prediction_store.store import open_store


def _records(uri: str):
    for f in sorted(fileio.glob(os.path.join(uri, "prediction_logs-*"))):
        yield from iter_records(f)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        params = json.loads(exec_properties["params"])
        result = artifact_utils.get_single_instance(input_dict["inference_result"])
        out = artifact_utils.get_single_instance(output_dict["prediction_run"])
        s = params["store"]
        store = open_store(s["kind"], s["target"], s.get("password_env"), s.get("timeout_s", 5))
        run_id = (self._context.pipeline_run_id if self._context else None) or \
            time.strftime("%Y%m%dT%H%M%S")
        use_case, version = params["use_case"], params["model_version"]
        rows = rows_lib.dedupe(rows_lib.prediction_rows(_records(result.uri), params["key"]),
                               params.get("on_duplicate_key", "fail"))
        first: List[str] = []

        def noting_the_first_key(rows):
            for key, pred in rows:
                if not first:
                    first.append(key)
                yield key, pred

        rows = noting_the_first_key(rows)
        t = time.monotonic()
        try:
            info = store.write_run(use_case, run_id, version, rows,
                                   keep_runs=s.get("keep_runs", 2))
        finally:
            store.close()
        logging.info("stored %d predictions of %s (model %s) as run %s in %.1f s", info.rows,
                     use_case, version, run_id, time.monotonic() - t)
        for k, v in (("run_id", run_id), ("use_case", use_case), ("model_version", version),
                     ("store", store.description), ("created_at", info.created_at)):
            out.set_string_custom_property(k, v)
        out.set_int_custom_property("rows", info.rows)
        if first:  # `tfxkit predict` checks that the store still holds it
            out.set_string_custom_property("sample_key", first[0])
        with fileio.open(os.path.join(out.uri, "run.json"), "w") as f:
            f.write(json.dumps({"run_id": run_id, "use_case": use_case, "rows": info.rows,
                                "model_version": version, "store": store.description}))
