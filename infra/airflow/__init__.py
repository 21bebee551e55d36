"""Airflow side of tfxkit: a DAG factory (one DAG per config) and an operator that runs
`tfxkit run` / `tfxkit predict` in the TFX environment or submits to Vertex.

This package runs in Airflow's own Python 3.11 environment (`make airflow-setup`) and
imports nothing from TFX: only airflow, pyyaml and tfxkit's config loader
(``tfxkit.pipelines.config``, pydantic and pyyaml), which ``make airflow-setup``
installs there without tfxkit's dependencies.
"""
