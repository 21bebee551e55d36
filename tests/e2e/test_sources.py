"""Parquet and TFRecord sources through the config's ExampleGen and StatisticsGen."""
import csv
import json

import pytest

from tfxkit.pipelines.config import check_data, load_config

pytestmark = pytest.mark.e2e

ROWS = [{"id": i, "x": float(i % 7), "s": "abc"[i % 3], "y": i % 2} for i in range(200)]
CONFIG = """
name: src-{kind}
task: binary
label: y
data:
  source: {{{kind}: {path}}}
  split: {{train: 3, eval: 1, key: id}}
features: {{dense: [x], vocab: [s]}}
eval: {{metrics: [{{name: auc, lower_bound: 0.5}}]}}
"""


def _write_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(ROWS), str(path))


def _write_tfrecord(path):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as w:
        for r in ROWS:
            f = {"id": tf.train.Feature(int64_list=tf.train.Int64List(value=[r["id"]])),
                 "x": tf.train.Feature(float_list=tf.train.FloatList(value=[r["x"]])),
                 "s": tf.train.Feature(bytes_list=tf.train.BytesList(value=[r["s"].encode()])),
                 "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[r["y"]]))}
            w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())


@pytest.mark.parametrize("kind,writer,name", [("parquet", _write_parquet, "d.parquet"),
                                              ("tfrecord", _write_tfrecord, "d.tfrecord")])
def test_source_kinds(tmp_path, kind, writer, name):
    from tfxkit.infra.run.local_runner import run_pipeline
    from tfxkit.pipelines import factory
    from tfx.orchestration import metadata, pipeline as tfx_pipeline

    (tmp_path / "data").mkdir()
    writer(tmp_path / "data" / name)
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(CONFIG.format(kind=kind, path=f"data/{name}"))
    cfg = load_config(cfg_path)
    info = check_data(cfg)
    assert set(info["columns"]) == {"id", "x", "s", "y"} and info["rows"] == 200
    comps = factory.create_components(cfg)[:2]  # ExampleGen, StatisticsGen
    p = tfx_pipeline.Pipeline(
        pipeline_name=cfg.name, pipeline_root=cfg.pipeline_root, components=comps,
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(tmp_path / "m.sqlite")))
    result = run_pipeline(p)
    assert [n.state for n in result.nodes] == ["ran", "ran"]
    from tfxkit.infra.run.summary import output_artifacts

    conn = metadata.sqlite_metadata_connection_config(str(tmp_path / "m.sqlite"))
    [examples] = output_artifacts(conn, result.nodes[0].execution_id)["examples"]
    assert json.loads(examples.split_names) == ["train", "eval"]
    import tensorflow as tf

    counts = {}
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(f"{examples.uri}/Split-{split}/*")
        counts[split] = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert counts["train"] + counts["eval"] == 200
    assert 0.6 < counts["train"] / 200 < 0.9
