"""The batch-inference pipeline of a config's ``inference:`` section.

    ExampleGen (inference data, one split, no label)
      -> Model_<name>: the latest pushed (so blessed) model of the use case, resolved in
         MLMD from the training pipeline's Pusher and imported with its lineage
      -> BatchInferrer_<name> (chained models read the upstream model's results)
      -> PredictionStorer_<name> (one store run per model)

Everything is checked before a component runs: a pushed model exists for every model,
the inference data has every feature column the models read, and the store answers.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional

from tfxkit.pipelines.config import (ConfigError, InferenceModel, PipelineConfig, load_config,
                                     reader_columns)

EXAMPLE_GEN = "ExampleGen"


class InferenceError(RuntimeError):
    """Batch inference cannot start: names the use case, the file or the store."""


@dataclass
class PushedModel:
    use_case: str
    path: str  # the pushed SavedModel (in the registry)
    version: str
    model_uri: str  # the Trainer's Model artifact it came from
    model_id: int


def latest_pushed_model(cfg: PipelineConfig) -> PushedModel:
    """The model the use case serves: the model registry's serving version when the
    registry has an index (so ``tfxkit rollback`` changes what batch inference uses), else
    the newest model the training pipeline pushed, from MLMD (a pusher pushes only
    blessed models)."""
    served = registry_serving_model(cfg)
    if served is not None:
        return served
    return _latest_pushed_in_mlmd(cfg)


def registry_serving_model(cfg: PipelineConfig) -> Optional[PushedModel]:
    """The registry's serving version (None when the registry has no index yet)."""
    from tfxkit.components.registry.errors import RegistryError
    from tfxkit.components.registry.registry import Registry

    reg = Registry(cfg.registry_path, name=cfg.name)
    try:
        if not reg.exists():
            return None
        serving = reg.serving()
        if serving is None:
            return None
        rec = reg.get(serving.version)
    except RegistryError as e:
        raise InferenceError(f"{cfg.name}: model registry {cfg.registry_path}: {e}") from None
    if not reg.fs.isdir(serving.path):
        raise InferenceError(f"{cfg.name}: the serving model {serving.path} is gone from "
                             "the registry")
    model_uri = rec.get("model_uri") or ""
    return PushedModel(cfg.name, serving.path, serving.version, model_uri,
                       _model_id(cfg, model_uri))


def _model_id(cfg: PipelineConfig, model_uri: str) -> int:
    """The MLMD id of the Trainer's Model artifact at ``model_uri`` (0 if unknown)."""
    from tfxkit.pipelines import mlmd

    if not model_uri or not mlmd.exists(cfg):
        return 0
    try:
        store = mlmd.open_store(cfg, readonly=True)
        try:
            model_type = _type_id(store, "Model")
            found = [a for a in store.get_artifacts_by_uri(model_uri) if a.type_id == model_type]
            return min(a.id for a in found) if found else 0
        finally:
            del store
    except Exception:  # pylint: disable=broad-except
        return 0


def _latest_pushed_in_mlmd(cfg: PipelineConfig) -> PushedModel:
    from tfxkit.pipelines import mlmd

    if not mlmd.exists(cfg):
        raise InferenceError(f"{cfg.name}: no pushed model yet (no metadata at "
                             f"{cfg.metadata_path}); run `tfxkit run {cfg.config_path}` first")
    from ml_metadata.proto import metadata_store_pb2

    store = mlmd.open_store(cfg, readonly=True)
    try:
        ctx = store.get_context_by_type_and_name("pipeline", cfg.name)
        pushed = []
        if ctx is not None:
            pushed = [a for a in store.get_artifacts_by_context(ctx.id)
                      if a.type_id == _type_id(store, "PushedModel")
                      and a.custom_properties.get("pushed") is not None
                      and a.custom_properties["pushed"].int_value == 1
                      and a.state == metadata_store_pb2.Artifact.LIVE]
        if not pushed:
            raise InferenceError(f"{cfg.name}: no pushed model yet; run `tfxkit run "
                                 f"{cfg.config_path}` until a model is blessed and pushed")
        latest = max(pushed, key=lambda a: (a.create_time_since_epoch, a.id))
        model_uri, model_id = "", 0
        # A cached re-run records the same PushedModel as an output of its own Pusher
        # execution too: the first execution is the one that pushed it.
        outs = [e for e in store.get_events_by_artifact_ids([latest.id])
                if e.type == metadata_store_pb2.Event.OUTPUT]
        ev = min(outs, key=lambda e: e.execution_id) if outs else None
        if ev is not None:
            model_type = _type_id(store, "Model")
            for e in store.get_events_by_execution_ids([ev.execution_id]):
                if e.type == metadata_store_pb2.Event.INPUT:
                    [a] = store.get_artifacts_by_id([e.artifact_id])
                    if a.type_id == model_type:
                        model_uri, model_id = a.uri, a.id
        path = latest.custom_properties["pushed_destination"].string_value
        if not os.path.isdir(path):
            raise InferenceError(f"{cfg.name}: the pushed model {path} is gone from the "
                                 "registry")
        return PushedModel(cfg.name, path,
                           latest.custom_properties["pushed_version"].string_value,
                           model_uri, model_id)
    finally:
        del store


def _type_id(store, name: str) -> int:
    try:
        return store.get_artifact_type(name).id
    except Exception:
        return -1


def node_suffix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def model_configs(cfg: PipelineConfig) -> Dict[str, PipelineConfig]:
    """Each inference model's use-case config (this one, or the file it names)."""
    out = {}
    for m in cfg.inference_models:
        if m.config is None:
            out[m.name] = cfg
        else:
            out[m.name] = load_config(cfg.resolve(m.config))
    return out


def check_inference(cfg: PipelineConfig, check_store: bool = True) -> Dict[str, object]:
    """Everything that can be checked before the run: the data, the models, the store.
    Raises ConfigError (bad data or config) or InferenceError (no model, no store)."""
    file = cfg.config_path or "<config>"
    inf = cfg.inference
    if inf is None:
        raise ConfigError(file, "inference", "this config has no inference section")
    from tfxkit.pipelines.config import files_of

    kind = inf.source.kind
    field = f"inference.source.{kind}"
    files = files_of(cfg, inf.source.path)
    if not files:
        raise ConfigError(file, field, f"path {inf.source.path!r} matches no file "
                          f"(resolved to {cfg.resolve(inf.source.path)})")
    try:
        cols, rows = reader_columns(kind, files, inf.source.query)
    except Exception as e:
        msg = str(e).strip().splitlines()[0]
        raise ConfigError(file, field, f"cannot read {files[0]}: {msg}") from None
    if rows == 0:
        raise ConfigError(file, field, f"the inference data is empty ({files[0]})")
    if inf.key not in cols:
        raise ConfigError(file, "inference.key", f"column {inf.key!r} is not in the inference "
                          f"data (columns: {', '.join(cols)})")
    configs = model_configs(cfg)
    fed = {}
    for m in cfg.inference_models:
        mcfg = configs[m.name]
        need = [c for c in mcfg.features.raw_columns() if c not in m.inputs]
        missing = [c for c in need if c not in cols]
        if missing:
            raise ConfigError(file, field, f"the inference data lacks column(s) "
                              f"{', '.join(repr(c) for c in missing)} that model {m.name!r} "
                              f"reads (columns: {', '.join(cols)})")
        fed[m.name] = need
    models = {name: latest_pushed_model(c) for name, c in configs.items()}
    store = None
    if check_store:
        store = open_configured_store(cfg)
        try:
            store.ping()
        finally:
            store.close()
    return {"files": files, "rows": rows, "columns": cols, "models": models}


def open_configured_store(cfg: PipelineConfig):
    from tfxkit.components.prediction_store.store import open_store

    s = cfg.inference.store
    target = cfg.resolve(s.sqlite) if s.kind == "sqlite" else getattr(s, s.kind)
    return open_store(s.kind, target, s.password_env, s.timeout_s)


def create_inference_components(cfg: PipelineConfig,
                                models: Optional[Dict[str, PushedModel]] = None) -> list:
    from tfx.dsl.components.common.importer import Importer
    from tfx.types import standard_artifacts

    from tfxkit.components.batch_inference.component import BatchInferrer
    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.components.prediction_store.component import PredictionStorer
    from tfxkit.pipelines.data_stage import split_input

    inf = cfg.inference
    if models is None:
        models = {name: latest_pushed_model(c) for name, c in model_configs(cfg).items()}
    base, pattern = split_input(cfg.resolve(inf.source.path))
    if inf.source.kind == "tfrecord":
        from tfx.components.example_gen.import_example_gen.component import ImportExampleGen
        from tfx.proto import example_gen_pb2 as eg

        example_gen = ImportExampleGen(
            input_base=base, input_config=eg.Input(splits=[eg.Input.Split(
                name="inference", pattern=pattern)])).with_id(EXAMPLE_GEN)
        splits = ["inference"]
    else:
        example_gen = ArrowExampleGen(input_base=base, pattern=pattern, kind=inf.source.kind,
                                      splits=[("inference", 1)], query=inf.source.query
                                      ).with_id(EXAMPLE_GEN)
        splits = ["inference"]
    single = len(cfg.inference_models) == 1
    s = inf.store
    target = cfg.resolve(s.sqlite) if s.kind == "sqlite" else getattr(s, s.kind)
    nodes: list = [example_gen]
    inferrers: Dict[str, object] = {}
    for m in cfg.inference_models:
        sfx = "" if single else "_" + node_suffix(m.name)
        pushed = models[m.name]
        importer = Importer(source_uri=pushed.path, artifact_type=standard_artifacts.Model,
                            reimport=False).with_id("Model" + sfx)
        if m.inputs:
            upstreams = {ref.split(".")[0] for ref in m.inputs.values()}
            if len(upstreams) != 1:
                raise ConfigError(cfg.config_path, f"inference.models.{m.name}.inputs",
                                  "a chained model reads the outputs of one upstream model")
            [up] = upstreams
            inferrer = BatchInferrer(
                model=importer.outputs["result"],
                upstream=inferrers[up].outputs["inference_result"],
                batch_size=inf.batch_size,
                chain={feat: ref.split(".")[1] for feat, ref in m.inputs.items()})
        else:
            inferrer = BatchInferrer(model=importer.outputs["result"],
                                     examples=example_gen.outputs["examples"], splits=splits,
                                     batch_size=inf.batch_size)
        inferrer = inferrer.with_id("BatchInferrer" + sfx)
        inferrers[m.name] = inferrer
        storer = PredictionStorer(
            inference_result=inferrer.outputs["inference_result"], store_kind=s.kind,
            store_target=target, password_env=s.password_env, keep_runs=s.keep_runs,
            key=inf.key, use_case=m.name, model_version=pushed.version,
            on_duplicate_key=inf.on_duplicate_key, timeout_s=s.timeout_s
        ).with_id("PredictionStorer" + sfx)
        nodes += [importer, inferrer, storer]
    return nodes


def create_inference_pipeline(cfg: PipelineConfig,
                              models: Optional[Dict[str, PushedModel]] = None):
    """The batch-inference pipeline: its own name (``<name>-inference``) and root, the same
    MLMD as training, so lineage runs from raw data to every stored prediction."""
    from tfx.orchestration import pipeline as tfx_pipeline

    from tfxkit.pipelines import mlmd
    from tfxkit.pipelines.beam_args import beam_pipeline_args

    mlmd.prepare(cfg)
    pipeline = tfx_pipeline.Pipeline(
        pipeline_name=cfg.inference_name,
        pipeline_root=os.path.join(cfg.resolve(cfg.root), cfg.inference_name),
        components=create_inference_components(cfg, models),
        enable_cache=True,
        metadata_connection_config=mlmd.connection_config(cfg, secrets=False),
        beam_pipeline_args=beam_pipeline_args(cfg, cfg.inference.source))
    pipeline.runtime_connection = mlmd.runtime_connection(cfg)  # with the password
    return pipeline


# --------------------------------------------------------------------------- store check

@dataclass
class StoreCheck:
    """Does the store still serve what MLMD says was stored for a use case?"""

    use_case: str
    stored_run: Optional[str]   # the run MLMD says was last stored
    serving: Optional[str]      # the run the store serves now (None: nothing)
    store_again: bool           # True: the store lost it, the storing step must re-run
    reason: str


def check_stored_run(store, use_case: str, stored_run: Optional[str],
                     sample_key: Optional[str] = None) -> StoreCheck:
    """Compares the run the store serves for ``use_case`` with ``stored_run`` (what MLMD
    says was last stored). The storing step must run again when the store serves no run
    (emptied by hand, a Redis restarted without persistence), when it no longer holds
    ``stored_run``, or when a key that run stored (``sample_key``) is gone from it. A store
    that serves another run it still holds was rolled back on purpose
    (``tfxkit predictions --rollback``): left as is. Raises StoreError when the store
    cannot be read."""
    runs = store.runs(use_case)
    current = next((r.run_id for r in runs if r.current), None)
    kept = [r.run_id for r in runs]
    where = store.description
    if current is None:
        why = (f"{where} serves no run of {use_case}" + (
            f" (it holds {', '.join(kept)})" if kept else " (it is empty)") +
            (f", though ML Metadata says run {stored_run} was stored" if stored_run else ""))
        return StoreCheck(use_case, stored_run, None, True, why)
    if stored_run is None:
        return StoreCheck(use_case, None, current, False,
                          f"{where} serves run {current} (no stored run in ML Metadata)")
    if stored_run not in kept:
        return StoreCheck(use_case, stored_run, current, True,
                          f"{where} no longer holds run {stored_run}, the last stored "
                          f"(it serves {current})")
    if current != stored_run:
        return StoreCheck(use_case, stored_run, current, False,
                          f"{where} serves run {current}, not the last stored "
                          f"{stored_run} (rolled back?); left as is")
    if sample_key is not None and store.get(use_case, sample_key) is None:
        return StoreCheck(use_case, stored_run, current, True,
                          f"{where} serves run {current} but its key {sample_key!r} is gone "
                          "(rows removed by hand?)")
    return StoreCheck(use_case, stored_run, current, False, f"{where} serves run {current}")


def last_stored_runs(cfg: PipelineConfig) -> Dict[tuple, Dict[str, object]]:
    """{(use case, store description): the custom properties of its newest PredictionRun}
    of this config's batch-inference pipeline in MLMD: what was last stored for each model
    in each store."""
    from tfxkit.pipelines import mlmd

    if not mlmd.exists(cfg):
        return {}
    store = mlmd.open_store(cfg, readonly=True)
    try:
        ctx = store.get_context_by_type_and_name("pipeline", cfg.inference_name)
        type_id = _type_id(store, "tfxkit.PredictionRun")
        if ctx is None or type_id < 0:
            return {}
        out: Dict[tuple, Dict[str, object]] = {}
        from ml_metadata.proto import metadata_store_pb2

        arts = [a for a in store.get_artifacts_by_context(ctx.id) if a.type_id == type_id
                and a.state == metadata_store_pb2.Artifact.LIVE]
        for a in sorted(arts, key=lambda a: (a.create_time_since_epoch, a.id)):
            props = {k: (v.string_value if v.HasField("string_value") else v.int_value)
                     for k, v in a.custom_properties.items()}
            if props.get("use_case"):
                out[(str(props["use_case"]), props.get("store"))] = props
        return out
    finally:
        del store
