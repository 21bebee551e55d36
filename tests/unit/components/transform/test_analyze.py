"""The in-process analysis (``analyze.py``): its vocabulary ordering and file format as
tf.Transform's Beam implementation has them, combiners on lists, what it refuses, and a
whole analysis against ``tft_beam.AnalyzeDataset`` on the same record batches."""
import os

import numpy as np
import pytest


def test_top_k_orders_by_count_then_token_descending():
    from tfxkit.components.transform.analyze import _top_k_ordered

    counts = [(2, b"b"), (5, b"a"), (2, b"c"), (1, b"d")]
    assert _top_k_ordered(counts, 0, 3, "string") == [(5, b"a"), (2, b"c"), (2, b"b")]
    assert _top_k_ordered(counts, 2, None, "string") == [(2, b"b"), (5, b"a"), (2, b"c")]
    # numbers become their text as bytes; no token at all -> tf.Transform's dummy entry
    assert _top_k_ordered([(3, 7), (4, 10)], 0, 1, "int64") == [(4, b"10")]
    from tensorflow_transform import analyzers

    assert _top_k_ordered([(1, b"x")], 5, 2, "string") == [
        analyzers.get_empy_vocabulary_dummy_value("string")]


def test_combine_gives_one_output_even_for_no_input():
    from tfxkit.components.transform.analyze import _combine

    class Sum:
        def create_accumulator(self):
            return 0

        def add_input(self, acc, x):
            return acc + x

        def merge_accumulators(self, accs):
            return sum(accs)

        def compact(self, acc):
            return acc

        def extract_output(self, acc):
            return acc * 10

    assert _combine(Sum(), [1, 2, 3]) == [60]
    assert _combine(Sum(), []) == [0]


def _batches(rows, spec):
    from tfx_bsl.coders import example_coder
    from tensorflow_transform.tf_metadata import schema_utils

    from tfxkit.testing import serialized_example

    schema = schema_utils.schema_from_feature_spec(spec)
    decoder = example_coder.ExamplesToRecordBatchDecoder(schema.SerializeToString())
    return schema, [decoder.DecodeBatch([serialized_example(r, spec) for r in rows])]


def _in_process(tmp, fn, rows, tf1):
    """``rows`` analysed and transformed in process: one Arrow RecordBatch."""
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.tfxio import tensor_adapter, tensor_representation_util

    from tfxkit.components.transform import analyze
    from tfxkit.testing import infer_feature_spec

    schema, batches = _batches(rows, infer_feature_spec(rows))
    config = tensor_adapter.TensorAdapterConfig(
        batches[0].schema,
        tensor_representation_util.InferTensorRepresentationsFromSchema(schema))
    with tft_beam.Context(temp_dir=tmp, force_tf_compat_v1=tf1):
        v1 = tft_beam.Context.get_use_tf_compat_v1()
        result = analyze.analyze(fn, {None: batches}, config, v1)
        ((out, _),) = analyze.transform_batches(result.transform_fn_dir, result.metadata,
                                                batches, config, v1)
    return out


ROWS = [{"x": float(v), "s": s} for v, s in
        zip([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], "abcabcaadd")]


@pytest.mark.parametrize("tf1", [True, False], ids=["tf1", "tf2"])
def test_a_whole_analysis_matches_beams(tmp_path, tf1):
    import tensorflow as tf
    import tensorflow_transform as tft

    def fn(inputs):
        x = tf.sparse.to_dense(inputs["x"])[:, 0]
        s = tf.sparse.to_dense(inputs["s"], default_value="")[:, 0]
        return {"z": tft.scale_to_z_score(x), "q": tft.bucketize(x, 3),
                "m": tft.scale_to_0_1(x),
                "v": tft.compute_and_apply_vocabulary(s, top_k=2, num_oov_buckets=1),
                "f": tft.compute_and_apply_vocabulary(s, frequency_threshold=3,
                                                      store_frequency=False)}

    from tfxkit.testing import run_preprocessing

    mine = _in_process(str(tmp_path), fn, ROWS, tf1)
    beam_rows = run_preprocessing(fn, ROWS, tf_compat_v1=tf1)  # tft_beam, in-memory Beam
    assert mine.num_rows == len(beam_rows) == len(ROWS)
    for name in ("z", "q", "m", "v", "f"):
        a = np.asarray(mine.column(mine.schema.get_field_index(name)).flatten(), float)
        b = np.asarray([r[name] for r in beam_rows], float)
        assert np.allclose(a, b, atol=1e-6), (name, a, b)
    assert sorted(set(np.asarray(mine.column(mine.schema.get_field_index("q")).flatten()))) \
        == [0, 1, 2]


def test_an_unsupported_operation_is_refused_before_writing(tmp_path):
    """A per-key analyzer: Unsupported (the executor then runs Beam)."""
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.tfxio import tensor_adapter, tensor_representation_util

    from tfxkit.components.transform import analyze
    from tfxkit.testing import infer_feature_spec

    def fn(inputs):
        x = tf.sparse.to_dense(inputs["x"])[:, 0]
        s = tf.sparse.to_dense(inputs["s"], default_value="")[:, 0]
        return {"k": tft.scale_to_0_1_per_key(x, s)}

    schema, batches = _batches(ROWS, infer_feature_spec(ROWS))
    config = tensor_adapter.TensorAdapterConfig(
        batches[0].schema,
        tensor_representation_util.InferTensorRepresentationsFromSchema(schema))
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=True):
        with pytest.raises(analyze.Unsupported, match="CacheableCombinePerKey"):
            analyze.analyze(fn, {None: batches}, config, True)


def test_this_tf_transform_has_what_it_relies_on():
    from tfxkit.components.transform.analyze import supported_here

    assert supported_here() is None


class _Batch:
    nbytes = 10


@pytest.mark.parametrize("keep_bytes,opens", [(30, 1), (29, 3), (0, 3)])
def test_reread_keeps_a_whole_first_pass_within_its_size(keep_bytes, opens):
    from tfxkit.components.transform.analyze import Reread

    calls = []

    def open_():
        calls.append(1)
        return iter([_Batch(), _Batch(), _Batch()])

    r = Reread(open_, keep_bytes=keep_bytes)
    for _ in range(3):
        assert len(list(r)) == 3
    assert len(calls) == opens and r.kept == (opens == 1)


def test_reread_keeps_nothing_from_a_pass_left_unfinished():
    from tfxkit.components.transform.analyze import Reread

    calls = []
    r = Reread(lambda: calls.append(1) or iter([_Batch(), _Batch()]), keep_bytes=100)
    next(iter(r))
    assert not r.kept
    assert len(list(r)) == 2 and len(list(r)) == 2 and len(calls) == 2


def test_the_analysis_leaves_nothing_for_the_garbage_collector(tmp_path, monkeypatch):
    """The visitor (and through the traverser every phase's values and the kept input)
    is freed as analyze() returns, not at the next gc: its handlers were a cycle."""
    import gc
    import weakref

    import tensorflow as tf
    import tensorflow_transform as tft

    from tfxkit.components.transform import analyze

    made = []
    init = analyze.InProcessVisitor.__init__
    monkeypatch.setattr(analyze.InProcessVisitor, "__init__",
                        lambda self, a: made.append(weakref.ref(self)) or init(self, a))

    def fn(inputs):
        return {"z": tft.scale_to_z_score(tf.sparse.to_dense(inputs["x"])[:, 0])}

    gc.collect()
    gc.disable()
    try:
        _in_process(str(tmp_path), fn, ROWS, True)
        assert len(made) == 1 and made[0]() is None
    finally:
        gc.enable()
