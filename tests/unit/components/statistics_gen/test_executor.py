"""tfxkit's StatisticsGen executor against TFX's own on the same examples: the same
statistics per split and artifact properties, computed without a Beam pipeline; TFX's
executor where something needs it, with the reason recorded."""
import json
import os

import pytest

from tests.unit.components.statistics_gen.test_statistics import (_examples,
                                                                    assert_same_statistics)


def _inputs(tmp, distinct=4, train=60):
    from tfx.types import standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(tmp, "examples")
    examples.split_names = json.dumps(["train", "eval"])
    examples.span = 3
    for i, split in enumerate(("train", "eval")):
        folder = os.path.join(examples.uri, f"Split-{split}")
        os.makedirs(folder)
        _examples(os.path.join(folder, "data_tfrecord-00000-of-00001.gz"), (train, 40)[i],
                  distinct=distinct, seed=i)
    return examples


def run(executor_cls, tmp, out, examples, flags=None, beam_args=(), props=None):
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    stats = standard_artifacts.ExampleStatistics()
    stats.uri = os.path.join(tmp, out)
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=list(beam_args), tmp_dir=os.path.join(tmp, out + "-tmp"),
        unique_id="1", extra_flags=flags)
    executor_cls(context).Do({"examples": [examples]}, {"statistics": [stats]},
                             dict(props or {}))
    return stats


def _read(stats, split):
    import tensorflow_data_validation as tfdv

    return tfdv.load_stats_binary(os.path.join(stats.uri, f"Split-{split}", "FeatureStats.pb"))


FLAG = ["--tfxkit_in_process_max_bytes=64000000"]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    import apache_beam as beam
    from tfx.components.statistics_gen.executor import Executor as Stock

    from tfxkit.components.statistics_gen.executor import Executor

    tmp = str(tmp_path_factory.mktemp("stats"))
    examples = _inputs(tmp)
    mp = pytest.MonkeyPatch()

    def refuse(self, *a, **k):
        raise AssertionError("a Beam pipeline ran")

    mp.setattr(beam.Pipeline, "run", refuse)
    try:
        mine = run(Executor, tmp, "mine", examples, FLAG)
    finally:
        mp.undo()
    return run(Stock, tmp, "stock", examples), mine


def test_in_process_without_beam(both):
    _, mine = both
    assert mine.get_string_custom_property("statistics_engine") == "in_process"
    assert not mine.has_custom_property("statistics_engine_reason")


@pytest.mark.parametrize("split", ["train", "eval"])
def test_same_statistics(both, split):
    stock, mine = both
    assert_same_statistics(_read(mine, split), _read(stock, split))
    assert _read(mine, split).datasets[0].num_examples == (60 if split == "train" else 40)


def test_same_artifact_properties(both):
    stock, mine = both
    assert mine.split_names == stock.split_names
    assert mine.span == stock.span == 3
    for name in ("stats_dashboard_link", "sample_rate_by_split"):
        assert mine.get_custom_property(name) == stock.get_custom_property(name), name


def test_many_distinct_values_run_beam_and_say_why(tmp_path):
    from tfxkit.components.statistics_gen.executor import Executor

    examples = _inputs(str(tmp_path), distinct=5000, train=3000)
    stats = run(Executor, str(tmp_path), "out", examples, FLAG)
    assert stats.get_string_custom_property("statistics_engine") == "beam"
    reason = stats.get_string_custom_property("statistics_engine_reason")
    assert reason.startswith("split train: k: ") and "> 1024" in reason
    assert _read(stats, "eval").datasets[0].num_examples == 40


@pytest.mark.parametrize("flags,args,props,reason", [
    (None, (), {}, "no in-process limit given"),
    (FLAG, ("--direct_running_mode=multi_processing",), {}, "Beam does not run in memory"),
    (FLAG, (), {"stats_options_json": '{"num_top_values": 5}'}, "stats_options_json is set"),
    (FLAG, (), {"exclude_splits": '["eval"]'}, "exclude_splits is set"),
    (["--tfxkit_in_process_max_bytes=10"], (), {}, "MB of examples > 0.0 MB"),
])
def test_why_not_in_process(tmp_path, flags, args, props, reason):
    from tfxkit.components.statistics_gen.executor import max_bytes, why_not_in_process

    examples = _inputs(str(tmp_path))
    got = why_not_in_process({"examples": [examples]}, props, list(args), max_bytes(flags))
    assert got is not None and got.endswith(reason), got
    assert why_not_in_process({"examples": [examples]}, {}, [], max_bytes(FLAG)) is None
