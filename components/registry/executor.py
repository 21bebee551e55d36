"""RegistryPusher executor: unpacks the blessings, gathers what the version records
(metrics, config hash, git commit, training data, model, run) and calls ``push.push``."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from tfxkit.components.model_card import content
from tfxkit.components.registry import push


def _gate(artifacts: Optional[List[types.Artifact]]) -> Optional[push.Gate]:
    if not artifacts:
        return None
    a = artifacts[0]
    if not a.has_custom_property("blessed"):
        return push.Gate(None)
    reason = a.get_string_custom_property("reason") if a.has_custom_property("reason") else ""
    return push.Gate(bool(a.get_int_custom_property("blessed")), reason)


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    """The candidate's metrics on the overall slice (not the baseline's, not diffs)."""
    import tensorflow_model_analysis as tfma

    out: Dict[str, float] = {}
    for mfs in tfma.load_metrics(evaluation_uri):
        if mfs.slice_key.single_slice_keys:
            continue
        for kv in mfs.metric_keys_and_values:
            k = kv.key
            if k.is_diff or k.model_name == "baseline" or not kv.value.HasField("double_value"):
                continue
            out[k.name] = kv.value.double_value.value
    return out


def data_record(examples: List[types.Artifact]) -> Dict[str, Any]:
    """What the model was trained on: the Examples artifacts' URIs, spans and row counts."""
    items = []
    for ex in examples:
        item: Dict[str, Any] = {"uri": ex.uri}
        try:
            item["span"] = ex.span
        except Exception:  # pylint: disable=broad-except
            pass
        rows = {}
        for key in ex.mlmd_artifact.custom_properties:
            if key.startswith("rows_") and key != "rows_rejected":
                rows[key[len("rows_"):]] = ex.get_int_custom_property(key)
        if rows:
            item["rows"] = rows
        items.append(item)
    return {"examples": items, "spans": sorted({i["span"] for i in items if "span" in i}),
            "rows": sum(sum(i.get("rows", {}).values()) for i in items)}


def card_writer(input_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any],
                name: str):
    """``card(version, record) -> files``: the model card of a pushed version
    (``components/model_card``), read from the evaluation, the statistics and the
    examples. Anything it cannot read is left out of the card (and logged); a card that
    cannot be built at all leaves the push without one rather than failing it."""
    from tfxkit.components.model_card import content, sources

    def ids(key: str) -> List[int]:
        return [a.id for a in input_dict.get(key) or [] if a.id]

    def card(version: str, record: Dict[str, Any]) -> Dict[str, bytes]:
        try:
            cfg = json.loads(exec_properties.get("card") or "{}")
            slices, stats = [], {}
            evaluation = input_dict.get("evaluation") or []
            if evaluation:
                try:
                    slices = sources.slice_metrics(evaluation[0].uri)
                except Exception as e:  # pylint: disable=broad-except
                    logging.warning("model card: cannot read the slices' metrics: %s", e)
            statistics = input_dict.get("statistics") or []
            if statistics:
                try:
                    stats = sources.feature_statistics(statistics[0].uri, "train")
                except Exception as e:  # pylint: disable=broad-except
                    logging.warning("model card: cannot read the statistics: %s", e)
            lineage = {"model": ids("model"), "examples": ids("examples"),
                       "statistics": ids("statistics"), "evaluation": ids("evaluation"),
                       "model_blessing": ids("model_blessing"),
                       "infra_blessing": ids("infra_blessing")}
            built = content.build(name=name, version=version, record=record,
                                  card_config=cfg.get("card"), slices=slices,
                                  statistics=stats, lineage=lineage,
                                  fairness=cfg.get("fairness"))
            files = content.files(built)
            record["model_card"] = f"{content.DIR}/{content.HTML_NAME}"  # in the index
            return files
        except Exception as e:  # pylint: disable=broad-except
            logging.warning("model card: not written: %s", e)
            return {}

    return card


def tflite_files(infra_blessing: Optional[List[types.Artifact]]) -> Optional[Dict[str, bytes]]:
    """The TFLite model the InfraValidator converted and checked (``push.tflite``), as the
    version folder's extra files (``tflite/model.tflite``, ``tflite/tflite.json``), or None
    when it made none. A .tflite whose sha256 differs from its tflite.json raises."""
    from tfxkit.components.tflite import files

    if not infra_blessing:
        return None

    def read(path: str) -> Optional[bytes]:
        if not fileio.exists(path):
            return None
        with fileio.open(path, "rb") as f:
            return f.read()

    return files.read_dir(infra_blessing[0].uri, read)


def extras(card, tflite: Optional[Dict[str, bytes]]):
    """``extra(version, record)`` for ``push.push``: the model card's files and the TFLite
    model's, the latter listed in the version's record (``tflite``: path, size, sha256,
    signature, the check's max abs diff and rows)."""
    from tfxkit.components.tflite import files

    def extra(version: str, record: Dict[str, Any]) -> Dict[str, bytes]:
        out: Dict[str, bytes] = {}
        if tflite:
            record["tflite"] = files.info_record(
                json.loads(tflite[f"{files.DIR}/{files.INFO}"]))
            out.update(tflite)
        out.update(card(version, record))
        return out

    return extra


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        out = artifact_utils.get_single_instance(output_dict["pushed_model"])
        model_gate = _gate(input_dict.get("model_blessing"))
        infra_gate = _gate(input_dict.get("infra_blessing"))
        ctx = getattr(self, "_context", None)
        meta: Dict[str, Any] = {
            "model_uri": model.uri,
            "pipeline_run": getattr(ctx, "pipeline_run_id", None),
            "pipeline": (ctx.pipeline_info.id if ctx is not None and ctx.pipeline_info
                         else None),
            "config_hash": exec_properties.get("config_hash") or "unknown",
            "git_commit": exec_properties.get("git_commit") or "unknown",
            "metrics": {}, "data": {},
        }
        evaluation = input_dict.get("evaluation") or []
        blessings = input_dict.get("model_blessing") or []
        try:
            if evaluation:
                meta["metrics"] = overall_metrics(evaluation[0].uri)
            elif blessings:  # a bandit's PolicyEvaluator: no TFMA output, its ope.json
                from tfxkit.components.policy_evaluator.executor import policy_metrics

                meta["metrics"] = policy_metrics(blessings[0].uri)
        except Exception as e:  # pylint: disable=broad-except
            logging.warning("registry: cannot read the evaluation's metrics: %s", e)
        if input_dict.get("examples"):
            meta["data"] = data_record(input_dict["examples"])
        if infra_gate is not None and infra_gate.blessed:
            meta["infra_validation"] = infra_gate.reason
        by = f"tfxkit {meta['pipeline'] or ''} run {meta['pipeline_run'] or ''}".strip()
        name = exec_properties.get("model_name") or None
        tflite = tflite_files(input_dict.get("infra_blessing")) \
            if infra_gate is not None and infra_gate.blessed else None
        outcome = push.push(exec_properties["registry"], path_utils.serving_model_dir(model.uri),
                            meta, model_gate, infra_gate,
                            keep_versions=int(exec_properties.get("keep_versions") or 5),
                            name=name, by=by,
                            card=extras(card_writer(input_dict, exec_properties,
                                                    name or os.path.basename(
                                                        exec_properties["registry"].rstrip("/"))),
                                        tflite))
        # the same custom properties as TFX's Pusher (pushed, pushed_destination,
        # pushed_version), plus why and what was recorded
        out.set_int_custom_property("pushed", int(outcome.pushed))
        out.set_string_custom_property("push_reason", outcome.reason)
        out.set_string_custom_property("registry", exec_properties["registry"])
        if outcome.version is not None:
            out.set_string_custom_property("pushed_destination", outcome.path)
            out.set_string_custom_property("pushed_version", outcome.version)
            out.set_string_custom_property("sha256", outcome.sha256 or "")
            card = os.path.join(outcome.path, content.DIR, content.HTML_NAME)
            if fileio.exists(card):
                out.set_string_custom_property("model_card", card)
            if tflite:
                from tfxkit.components.tflite import files

                out.set_string_custom_property(
                    "tflite", os.path.join(outcome.path, files.DIR, files.MODEL))
        out.set_string_custom_property("config_hash", str(meta["config_hash"]))
        out.set_string_custom_property("git_commit", str(meta["git_commit"]))
        out.set_string_custom_property("metrics", json.dumps(meta["metrics"], sort_keys=True))
        if outcome.trimmed:
            out.set_string_custom_property("trimmed", ",".join(outcome.trimmed))
        fileio.makedirs(out.uri)
        with fileio.open(os.path.join(out.uri, "push.json"), "w") as f:
            json.dump({"pushed": outcome.pushed, "reason": outcome.reason,
                       "version": outcome.version, "path": outcome.path, **meta}, f,
                      indent=1, default=str)
        (logging.info if outcome.action == "push" else logging.warning)("registry push: %s",
                                                                        outcome.reason)
