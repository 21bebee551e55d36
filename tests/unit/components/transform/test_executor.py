"""tfxkit's Transform executor against TFX's own, on the same examples and schema:
the in-process analysis (no Beam pipeline) writes the same vocabularies, schema and
transformed examples, for every transform kind, traced in TF1 and in TF2; what it cannot
run goes to Beam and says why."""
import json
import os

import numpy as np
import pytest

FEATURES = {
    "dense": ["a", "b", "c", "d"],
    "scale": {"a": "z_score", "b": "min_max", "c": "log", "d": "none"},
    "impute": {"a": "mean", "b": "median", "c": {"constant": 5}, "d": "most_frequent",
               "s": "most_frequent"},
    "bucket": {"a": 3},
    "vocab": {"s": {"top_k": 2, "num_oov_buckets": 1},
              "city": {"frequency_threshold": 2, "num_oov_buckets": 2}},
    "categorical_int": {"year": 2},
    "hash": {"h": 8},
    "sequence": {"tags": {"max_length": 3, "vocab": {"top_k": 3}},
                 "nums": {"max_length": 2, "dtype": "float"}},
}


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append({
            "a": None if i % 7 == 3 else float(rng.normal(5, 2)),
            "b": None if i % 5 == 1 else float(rng.uniform(0, 10)),
            "c": None if i % 4 == 2 else float(rng.integers(0, 9)),
            "d": None if i % 6 == 0 else float(rng.integers(1, 4)),
            "s": None if i % 8 == 5 else str(rng.choice(["x", "y", "z", "w"])),
            "city": str(rng.choice(["p", "q", "r", "t"], p=[0.5, 0.3, 0.15, 0.05])),
            "year": int(rng.choice([2007, 2008, 2009])),
            "h": f"k{int(rng.integers(0, 30))}",
            "tags": "|".join(rng.choice(["u", "v", "w", "x"], size=int(rng.integers(0, 5)))),
            "nums": "|".join(f"{v:.2f}" for v in rng.uniform(0, 3, size=int(rng.integers(1, 4)))),
            "y": str(rng.choice(["A", "B", "C"], p=[0.5, 0.3, 0.2])),
        })
    return rows


def _spec():
    import tensorflow as tf

    from tfxkit.testing import infer_feature_spec

    spec = infer_feature_spec(_rows(60, 1))
    assert spec["year"].dtype == tf.int64 and spec["a"].dtype == tf.float32
    return spec


def _inputs(tmp):
    """An Examples artifact (train 60 rows, eval 25) and a Schema artifact."""
    import tensorflow as tf
    from tensorflow_transform.tf_metadata import schema_utils
    from tfx.types import standard_artifacts
    from tfx.utils import io_utils

    from tfxkit.testing import serialized_example

    spec = _spec()
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(tmp, "examples")
    examples.split_names = json.dumps(["train", "eval"])
    for split, rows in (("train", _rows(60, 1)), ("eval", _rows(25, 2))):
        folder = os.path.join(examples.uri, f"Split-{split}")
        os.makedirs(folder)
        with tf.io.TFRecordWriter(os.path.join(folder, "data_tfrecord-00000-of-00001.gz"),
                                  "GZIP") as w:
            for row in rows:
                w.write(serialized_example(row, spec))
    schema = standard_artifacts.Schema()
    schema.uri = os.path.join(tmp, "schema")
    io_utils.write_pbtxt_file(os.path.join(schema.uri, "schema.pbtxt"),
                              schema_utils.schema_from_feature_spec(spec))
    return examples, schema


def _custom_config(features=None, **extra):
    from tfxkit.pipelines.config import Features

    config = {"task": "multiclass", "label": "y", "label_classes": None, "code": "",
              "features": Features.model_validate(features or FEATURES).model_dump(mode="json")}
    config.update(extra)
    return json.dumps(config)


def run(executor_cls, tmp, out, tf1, fn="tfxkit.pipelines.transform.preprocessing_fn",
        custom_config=None):
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    examples, schema = _inputs(os.path.join(tmp, "in-" + out))
    graph = standard_artifacts.TransformGraph()
    graph.uri = os.path.join(tmp, out, "transform_graph")
    transformed = standard_artifacts.Examples()
    transformed.uri = os.path.join(tmp, out, "transformed_examples")
    props = {"preprocessing_fn": fn, "custom_config": custom_config or _custom_config(),
             "force_tf_compat_v1": int(tf1), "disable_statistics": 1,
             "disable_analyzer_cache": 1}
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=[], tmp_dir=os.path.join(tmp, out, "tmp"), unique_id="1")
    executor_cls(context).Do({"examples": [examples], "schema": [schema]},
                             {"transform_graph": [graph],
                              "transformed_examples": [transformed]}, props)
    return graph, transformed


def _read(transformed, split):
    import tensorflow as tf

    folder = os.path.join(transformed.uri, f"Split-{split}")
    (name,) = os.listdir(folder)
    assert name == "transformed_examples-00000-of-00001.gz"
    out = []
    for record in tf.data.TFRecordDataset(os.path.join(folder, name), "GZIP"):
        ex = tf.train.Example.FromString(record.numpy())
        out.append({k: list(getattr(f, f.WhichOneof("kind")).value)
                    for k, f in ex.features.feature.items()})
    return out


def _files(graph):
    out = {}
    for root, _, files in os.walk(graph.uri):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), graph.uri)
            if rel.startswith("transform_fn/") and not rel.startswith("transform_fn/assets"):
                continue  # the SavedModel itself: graph names and temp paths differ
            with open(os.path.join(root, f), "rb") as fh:
                out[rel] = fh.read()
    return out


def _no_beam(monkeypatch):
    import apache_beam as beam

    def refuse(self, *a, **k):
        raise AssertionError("a Beam pipeline ran")

    monkeypatch.setattr(beam.Pipeline, "run", refuse)


_STOCK = {}


@pytest.fixture(scope="module", params=[(True, False), (False, False), (True, True)],
                ids=["tf1", "tf2", "tf1-streamed"])
def both(request, tmp_path_factory):
    """(stock's outputs, mine): mine kept the analysis's input in memory, or (streamed)
    read it from disk for every phase (``KEEP_MAX_BYTES`` 0); ``opened`` counts the reads
    of the analysis's input."""
    from tfx.components.transform.executor import Executor as Stock

    from tfxkit.components.transform import analyze, executor
    from tfxkit.components.transform.executor import Executor

    tf1, streamed = request.param
    tmp = str(tmp_path_factory.mktemp("transform"))
    mp = pytest.MonkeyPatch()
    opened = []
    try:
        _no_beam(mp)
        if streamed:
            mp.setattr(executor, "KEEP_MAX_BYTES", 0)
        read = analyze.Reread._read
        mp.setattr(analyze.Reread, "_read",  # the splits' reads, not the chain of them
                   lambda self: (type(self) is analyze.Reread and opened.append(self))
                   or read(self))
        mine = run(Executor, tmp, "mine", tf1)
    finally:
        mp.undo()
    if tf1 not in _STOCK:
        _STOCK[tf1] = run(Stock, tmp, "stock", tf1)
    return _Outputs((_STOCK[tf1], mine), opened=len(opened), streamed=streamed)


class _Outputs(tuple):
    def __new__(cls, pair, opened, streamed):
        self = super().__new__(cls, pair)
        self.opened, self.streamed = opened, streamed
        return self


def test_in_process_ran_without_beam(both):
    _, (graph, _) = both
    assert graph.get_string_custom_property("analysis_engine") == "in_process"
    assert not graph.has_custom_property("analysis_engine_reason")


def test_the_analysis_input_is_kept_or_read_again_for_every_phase(both):
    """The train split's analysis columns are read from disk once and kept for the
    second phase (these features need two); over KEEP_MAX_BYTES (0 here: "streamed")
    they are read again for each phase."""
    assert both.opened == (2 if both.streamed else 1)


def test_same_vocabularies_schema_and_asset_map(both):
    (stock_graph, _), (graph, _) = both
    stock, mine = _files(stock_graph), _files(graph)
    assert sorted(mine) == sorted(stock)
    assert "transform_fn/assets/s" in mine and "transformed_metadata/asset_map" in mine
    for name in stock:
        assert mine[name] == stock[name], name


@pytest.mark.parametrize("split,n", [("train", 60), ("eval", 25)])
def test_same_transformed_examples(both, split, n):
    (_, stock_ex), (_, mine_ex) = both
    stock, mine = _read(stock_ex, split), _read(mine_ex, split)
    assert len(mine) == len(stock) == n
    assert set(mine[0]) >= {"a_xf", "a_bucket_xf", "s_xf", "city_xf", "year_xf", "h_xf",
                            "tags_xf", "nums_xf", "nums_mask_xf", "y_xf"}
    for want, got in zip(stock, mine):
        assert set(got) == set(want)
        for k in want:
            assert np.allclose(np.asarray(got[k], float), np.asarray(want[k], float),
                               atol=1e-5), (k, want[k], got[k])


def test_transform_graph_serves_like_stocks(both):
    """The written transform_fn, loaded as the Trainer and serving load it, gives the
    stock one's outputs on raw examples."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from tfxkit.testing import serialized_example

    (stock_graph, _), (graph, _) = both
    spec = _spec()
    raw = [serialized_example(r, spec) for r in _rows(5, 9)]
    outs = []
    for g in (stock_graph, graph):
        out = tft.TFTransformOutput(g.uri)
        parsed = tf.io.parse_example(tf.constant(raw), out.raw_feature_spec())
        outs.append(out.transform_features_layer()(parsed))
        assert out.vocabulary_size_by_name("label") == 3
    for k, v in outs[0].items():
        w = v.values if isinstance(v, tf.SparseTensor) else v
        g = outs[1][k].values if isinstance(outs[1][k], tf.SparseTensor) else outs[1][k]
        assert np.allclose(np.asarray(w, float), np.asarray(g, float), atol=1e-5), k


def per_key_fn(inputs, custom_config=None):
    """A preprocessing_fn with a per-key analyzer (not run in process)."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from tfxkit.pipelines.transform import to_dense

    x, _ = to_dense(inputs["b"], 0.0)
    key, _ = to_dense(inputs["y"], "")
    return {"b_xf": tft.scale_to_0_1_per_key(x, key),
            "y_xf": tft.compute_and_apply_vocabulary(tf.strings.strip(key))}


def test_unsupported_analyzer_runs_beam_and_says_which(tmp_path):
    from tfxkit.components.transform.executor import Executor

    graph, transformed = run(Executor, str(tmp_path), "perkey", True,
                             fn=f"{__name__}.per_key_fn")
    assert graph.get_string_custom_property("analysis_engine") == "beam"
    reason = graph.get_string_custom_property("analysis_engine_reason")
    assert reason.startswith("in-process analysis does not run CacheableCombinePerKey"), reason
    rows = _read(transformed, "train")
    assert len(rows) == 60 and all(0.0 <= r["b_xf"][0] <= 1.0 for r in rows)


def test_over_the_size_limit_runs_beam(tmp_path):
    from tfxkit.components.transform import MAX_BYTES_KEY
    from tfxkit.components.transform.executor import Executor

    graph, transformed = run(Executor, str(tmp_path), "big", True,
                             custom_config=_custom_config(**{MAX_BYTES_KEY: 100}))
    assert graph.get_string_custom_property("analysis_engine") == "beam"
    assert graph.get_string_custom_property("analysis_engine_reason").endswith(
        "MB of examples > 0.0 MB")
    assert len(_read(transformed, "eval")) == 25


def _args(**over):
    from tfx.proto import example_gen_pb2

    a = {"input_cache_dir": None, "output_cache_dir": None, "disable_statistics": True,
         "per_set_stats_output_paths": [], "materialization_format": "tfrecords_gzip",
         "raw_examples_data_format": example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE,
         "analyze_data_list": [], "transform_data_list": []}
    a.update(over)
    return a


@pytest.mark.parametrize("over,reason", [
    ({"input_cache_dir": "/c"}, "the analyzer cache is on"),
    ({"output_cache_dir": "/c"}, "the analyzer cache is on"),
    ({"disable_statistics": False}, "Transform computes statistics"),
    ({"per_set_stats_output_paths": ["/s"]}, "Transform computes statistics"),
    ({"raw_examples_data_format": 2}, "the examples are not tf.Examples"),
    ({"materialization_format": "parquet"}, "the transformed examples are written as parquet"),
])
def test_why_not_in_process(over, reason):
    from tfxkit.components.transform.executor import why_not_in_process

    assert why_not_in_process(_args(), 10) is None
    assert why_not_in_process(_args(**over), 10) == reason


def test_a_split_in_both_lists_is_counted_once(tmp_path):
    """The train split is analysed and transformed: its bytes count once in the limit."""
    from types import SimpleNamespace

    from tfxkit.components.transform.executor import _input_bytes

    (tmp_path / "a.gz").write_bytes(b"x" * 100)
    (tmp_path / "b.gz").write_bytes(b"y" * 30)
    train = SimpleNamespace(file_pattern=str(tmp_path / "a*"))
    both = SimpleNamespace(file_pattern=str(tmp_path / "*.gz"))
    assert _input_bytes([train, train]) == 100
    assert _input_bytes([train, both]) == 130
