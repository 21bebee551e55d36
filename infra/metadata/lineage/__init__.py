"""Lineage of a pushed model, read from ML Metadata (``tfxkit lineage``).

- ``model.py``: the result, a ``Lineage`` of ``Step`` s (one component execution each);
- ``walk.py``: ``model_lineage(store, pipeline_name)``, the walk back along MLMD events
  from a PushedModel (through ``pipelines/mlmd_reader.py``);
- ``facts.py``: what the walk reads from artifacts (schema, anomalies, hyperparameters) and the
  evaluation's metrics against the thresholds the run recorded (a bandit's off-policy
  estimates and verdicts: ``infra/metadata/ope.py``);
- ``render.py``: text, JSON and an SVG graph (``infra/metadata/graph_svg.py``).
"""
