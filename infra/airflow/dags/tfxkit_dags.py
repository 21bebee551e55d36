"""Airflow DAG file: one DAG per tfxkit config (see infra/airflow/dag_factory.py).

Point Airflow's dags folder here (AIRFLOW__CORE__DAGS_FOLDER=.../infra/airflow/dags);
TFXKIT_CONFIGS_DIR picks the configs folder (default: the repository's configs/).
Only airflow and tfxkit's config loader (tfxkit.pipelines.config: pydantic, pyyaml)
are imported: the runs happen in the TFX environment.
"""
import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[3])
if _REPO not in sys.path:
    sys.path.append(_REPO)  # appended: nothing of Airflow's is shadowed

from infra.airflow.dag_factory import create_dags  # noqa: E402

globals().update(create_dags())
