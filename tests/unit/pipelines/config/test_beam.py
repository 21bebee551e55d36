"""The beam section's schema (``config/beam.py``): a runner's settings that cannot work are
refused naming the field. The arguments each runner's config produces are tested in
tests/unit/pipelines/test_beam_args.py."""
from pathlib import Path

import pytest

from tfxkit.pipelines.config import ConfigError, load_config

TEMPLATE = Path(__file__).resolve().parents[4] / "templates" / "multiclass" / "config.yaml"


@pytest.mark.parametrize("sets,field,reason", [
    (["beam.runner=dataflow"], "beam", "give its settings in beam.dataflow"),
    (["beam.runner=flink", "beam.flink={environment_type: DOCKER}"], "beam.flink",
     "exactly one of flink_master, job_endpoint"),
    (["beam.runner=spark", "beam.spark={job_endpoint: 'j:1', environment_type: EXTERNAL}"],
     "beam.spark", "EXTERNAL needs one"),
    (["beam.runner=flink", "beam.flink={job_endpoint: 'j:1', environment_type: DOCKER, "
      "environment_config: img}"], "beam.flink", "sdk_container_image"),
    (["beam.mode=in_memory", "beam.workers=2"], "beam", "multi_processing"),
    (["beam.auto_min_mb=0"], "beam.auto_min_mb", "greater than 0"),
    (["beam.auto_min_cores=1"], "beam.auto_min_cores", "greater than or equal to 2"),
    (["beam.runner=storm"], "beam.runner", "got 'storm'"),
    (["beam.dataflow={project: p}"], "beam.dataflow.region", "required"),
])
def test_bad_beam_config(sets, field, reason):
    with pytest.raises(ConfigError) as e:
        load_config(TEMPLATE, overrides=sets)
    assert e.value.field == field and reason in e.value.reason, e.value
