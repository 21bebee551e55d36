"""Sequence models (issue 20 point 3): ``features.sequence`` list features and model kind
``rnn`` through the real pipeline (``tfxkit run``), on the ETA segments generator
(``pipelines/datasets/eta.py``: a jam slows the next segments, so the duration depends
on the order of the segments).

The same config, data, split and epochs twice: kind ``rnn`` (a GRU over the segment types
and lengths, beside hour and distance) and kind ``dnn`` (which ignores sequence features:
hour and distance only). The rnn's gated eval metric (MAE on the eval split, computed by
TFMA in the Evaluator) must beat the dnn's; both are printed. Then the pushed rnn model,
loaded as online serving loads it, predicts trips sent as JSON lists: the same segments
in another order give another duration, the way the generator's truth does."""
import re

import pytest

from tests.e2e.helpers import registry_versions, tfxkit

pytestmark = pytest.mark.e2e

ROWS = 1000
CONFIG = """
name: eta-segments
task: regression
label: duration_min
data:
  source: {parquet: data/trips.parquet}
  split: {train: 4, eval: 1, key: trip_id}
features:
  dense: [distance_km]
  categorical_int: {hour: 24}
  sequence:
    segments: {max_length: 10, vocab: {}}
    segment_km: {max_length: 10, scale: z_score}
model:
  kind: rnn
  rnn: {cell: gru, units: 16}
  hidden_units: [16]
  learning_rate: 0.01
  batch_size: 32
  epochs: 12
  early_stopping: null
eval:
  metrics:
    - {name: mae, upper_bound: 100}
push: {registry: models}
"""
MAE = re.compile(r"^\s+ok\s+mean_absolute_error\s+([0-9.]+)", re.M)


def gated_mae(run):
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    m = MAE.search(run.stdout)
    assert m, run.stdout[-3000:]
    return float(m.group(1))


def test_rnn_beats_a_dnn_without_the_sequence_and_serves_lists(tmp_path):
    from tfxkit.pipelines.datasets import eta

    eta.write_sequences(str(tmp_path / "data" / "trips.parquet"), ROWS, seed=1)
    (tmp_path / "config.yaml").write_text(CONFIG)
    rnn = tfxkit("run", "config.yaml", "--no-report", cwd=tmp_path)
    rnn_mae = gated_mae(rnn)
    [rnn_version] = registry_versions(tmp_path / "models")
    # the same pipeline: ingestion and Transform are cached, the Trainer's kind differs
    dnn = tfxkit("run", "config.yaml", "--no-report", "--set", "model.kind=dnn", cwd=tmp_path)
    dnn_mae = gated_mae(dnn)
    assert re.search(r"Transform\s+cached", dnn.stdout), dnn.stdout[-3000:]
    print(f"FIGURE eval MAE (minutes) on {ROWS} generated trips: rnn {rnn_mae:.3f}, "
          f"dnn without the sequence {dnn_mae:.3f} (noise sd {eta.SEQ_NOISE_SD})")
    assert rnn_mae < 0.8 * dnn_mae

    served_predictions(str(tmp_path / "models" / rnn_version))


def served_predictions(model_dir):
    """The pushed model as online serving (and batch inference) calls it: the feature
    spec read from its parse op, JSON instances encoded by the serving encoder."""
    from tfxkit.components.batch_inference.infer import Predictor
    from tfxkit.infra.serving.examples import encode_example, spec_from_graph_def
    from tfxkit.pipelines.datasets import eta

    predictor = Predictor(model_dir)
    spec = spec_from_graph_def(predictor.fn.graph.as_graph_def())
    assert spec["segments"] == "bytes" and spec["segment_km"] == "float"
    km = [2.0, 2.0, 2.0]
    trips = [{"segments": ["jam", "local", "local"], "segment_km": km},
             {"segments": ["local", "local", "jam"], "segment_km": km},
             {"segments": "jam|local|local", "segment_km": km}]  # as a CSV cell
    for t in trips:
        t.update(hour=12, distance_km=6.0)
    out = predictor([encode_example(t, spec) for t in trips])["prediction"][:, 0]
    truth = [eta.expected_minutes_of_segments(t["segments"] if isinstance(t["segments"], list)
                                              else t["segments"].split("|"), km, 12)
             for t in trips]
    print(f"FIGURE served predictions, jam first vs jam last: {out[0]:.2f} vs {out[1]:.2f} "
          f"(truth {truth[0]:.2f} vs {truth[1]:.2f})")
    assert out[0] > out[1] + 0.3 * (truth[0] - truth[1])
    assert out[2] == pytest.approx(out[0], abs=1e-4)  # the delimited string, split alike
