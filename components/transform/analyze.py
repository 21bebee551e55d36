"""tf.Transform's analysis without a Beam pipeline, for data that fits in memory.

tf.Transform plans an analysis as a graph of operations (``analysis_graph_builder``):
run a phase's graph over the data (``ApplySavedModel``), feed the values to combiners
(mean, variance, quantiles, vocabularies), bind the results as constants
(``CreateTensorBinding``) and write the next phase's SavedModel (``CreateSavedModel``),
until the final ``transform_fn``. Its Beam implementation turns every operation into
PTransforms; for a few hundred rows, building and running those (~100 of them for a
template's config) is most of Transform's wall time.

``InProcessVisitor`` runs the same plan on Python values in this process: the same
traced graphs, the same combiners (``CombinerSpec``s wrapped as Beam does) and the same
vocabulary ordering and file format, so the SavedModel and vocabulary files are what
the Beam implementation writes. The input may be lists of RecordBatches or ``Reread``
streams (kept in memory after the first pass up to a size, else read again from disk for
every phase that applies a graph to them); what a phase's graph computes for its
analyzers (their input columns) is held in memory until the phase's combiners have run,
and ``transform_batches`` yields its output batch by batch. An operation it does not
implement (per-key analyzers,
mutual-information vocabularies, user PTransform analyzers, the analyzer cache) raises
``Unsupported`` before anything is written; the caller then runs Beam.
"""
from __future__ import annotations

import dataclasses
import os
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple)

import numpy as np
import tensorflow as tf
from apache_beam.utils import shared
from tensorflow_transform import analyzer_nodes, annotators, graph_tools, impl_helper, nodes
from tensorflow_transform.beam import analysis_graph_builder, analyzer_impls, beam_nodes
from tensorflow_transform.beam import common as beam_common
from tensorflow_transform.beam import impl as beam_impl
from tensorflow_transform.beam.context import Context
from tfx_bsl.tfxio.tensor_adapter import TensorAdapter


class Unsupported(Exception):
    """The analysis needs an operation this module does not run (Beam runs it)."""


@dataclasses.dataclass(frozen=True)
class _Args:
    base_temp_dir: str
    graph: Any
    input_signature: Mapping[str, Any]
    input_specs: Mapping[str, Any]
    input_tensor_adapter_config: Any
    use_tf_compat_v1: bool
    preprocessing_fn: Any
    analyzers_fingerprint: Any
    save_options: Any
    batches: Mapping[Any, Iterable[Any]]


class Reread:
    """A stream of RecordBatches that can be iterated again: ``iter()`` calls ``open()``
    (e.g. a TFXIO's ``RecordBatches``) and reads anew. With ``keep_bytes``, the batches of
    the first whole pass are kept while their Arrow size stays within it, and later
    passes iterate those instead of reading again; beyond it nothing is kept."""

    def __init__(self, open: Callable[[], Iterable[Any]], keep_bytes: int = 0):
        self._open = open
        self._keep_bytes = keep_bytes
        self._kept: Optional[List[Any]] = None

    @property
    def kept(self) -> bool:
        return self._kept is not None

    def __iter__(self) -> Iterator[Any]:
        if self._kept is not None:
            return iter(self._kept)
        return self._read()

    def _read(self) -> Iterator[Any]:
        kept: Optional[List[Any]] = [] if self._keep_bytes > 0 else None
        size = 0
        for batch in self._open():
            if kept is not None:
                size += batch.nbytes
                if size > self._keep_bytes:
                    kept = None
                else:
                    kept.append(batch)
            yield batch
        if kept is not None:  # only a whole pass
            self._kept = kept


class _Chain(Reread):
    """Values one after another, each iterated anew every time."""

    def __init__(self, values: Sequence[Iterable[Any]]):
        super().__init__(lambda: (e for v in values for e in v))


def _chain(values: Sequence[Iterable[Any]]):
    """Values one after another: a list when every one is a list, else a ``_Chain``."""
    if all(isinstance(v, list) for v in values):
        return [e for v in values for e in v]
    return _Chain(values)


def _one(values: List[Any], what: str) -> Any:
    if len(values) != 1:
        raise ValueError(f"{what}: expected one value, got {len(values)}")
    return values[0]


def _combine(combiner_fn, elements: Iterable[Any]) -> List[Any]:
    """``beam.CombineGlobally(combiner_fn)`` on a list: one output, even for no input."""
    if hasattr(combiner_fn, "setup"):
        combiner_fn.setup()
    acc = combiner_fn.create_accumulator()
    for e in elements:
        acc = combiner_fn.add_input(acc, e)
    acc = combiner_fn.merge_accumulators([acc])
    return [combiner_fn.extract_output(combiner_fn.compact(acc))]


def _top_k_ordered(counts: List[Tuple[Any, Any]], frequency_threshold, top_k, input_dtype):
    """``_ApplyThresholdsAndTopK`` (without coverage): (count, token) pairs, filtered,
    numeric tokens as bytes, the ``top_k`` largest in descending order."""
    if frequency_threshold and frequency_threshold > 0:
        counts = [c for c in counts if c[0] >= frequency_threshold]
    if input_dtype != tf.string.name:
        counts = [(c, tf.compat.as_bytes(tf.compat.as_str_any(t))) for c, t in counts]
    if top_k is not None:
        counts = sorted(counts, reverse=True)[:top_k]
        counts = analyzer_impls.maybe_add_empty_vocabulary_dummy(counts, input_dtype)
    return counts


class InProcessVisitor(nodes.Visitor):
    """Evaluates tf.Transform's analysis graph; every value is a Python list (what the
    Beam visitor's PCollection would hold), or a ``Reread`` stream of the input."""

    def __init__(self, args: _Args):
        self._a = args
        self._handlers = {
            beam_nodes.ExtractInputForSavedModel: self._extract_input,
            beam_nodes.CreateSavedModel: self._create_saved_model,
            beam_nodes.ApplySavedModel: self._apply_saved_model,
            beam_nodes.ExtractFromDict: self._extract_from_dict,
            beam_nodes.Flatten: lambda op, ins: (_chain(ins),),
            beam_nodes.CreateTensorBinding: self._tensor_binding,
            analyzer_nodes.CacheableCombineAccumulate: self._combiner(False, False),
            analyzer_nodes.CacheableCombineMerge: self._combiner(False, True),
            analyzer_nodes.PackedCombineAccumulate: self._combiner(True, False),
            analyzer_nodes.PackedCombineMerge: self._combiner(True, True),
            analyzer_nodes.ExtractCombineMergeOutputs: self._extract_outputs,
            analyzer_nodes.ExtractPackedCombineMergeOutputs: self._extract_outputs,
            analyzer_nodes.AddKey: lambda op, ins: ([(op.key, v) for v in ins[0]],),
            analyzer_nodes.FlattenLists: lambda op, ins: ([e for v in ins[0] for e in v],),
            analyzer_nodes.VocabularyAccumulate: self._vocab_accumulate,
            analyzer_nodes.VocabularyMerge: self._vocab_merge,
            analyzer_nodes.VocabularyCount: self._vocab_count,
            analyzer_nodes.VocabularyPrune: self._vocab_prune,
            analyzer_nodes.VocabularyOrderAndWrite: self._vocab_write,
            analyzer_nodes.ExtractVocabularyReservedTokens: self._reserved_tokens,
        }

    def close(self) -> None:
        """Drops the handlers (bound methods: a reference cycle) and the input, so that
        neither waits for the garbage collector once the analysis is done."""
        self._handlers = {}
        self._a = None

    # nodes.Visitor
    def validate_value(self, value):
        if not isinstance(value, (list, Reread)):
            raise TypeError(f"expected a list or a Reread, got {type(value)}")

    def visit(self, operation_def, input_values):
        handler = self._handlers.get(type(operation_def))
        if handler is None:
            raise Unsupported(f"{type(operation_def).__name__} ({operation_def.label})")
        return tuple(handler(operation_def, input_values))

    # data and graphs
    def _extract_input(self, op, inputs):
        key = op.dataset_key
        if key.is_flattened_dataset_key():
            return (_chain(list(self._a.batches.values())),)
        return (self._a.batches[key],)

    def _create_saved_model(self, op, inputs):
        bindings = [_one(v, "tensor binding") for v in inputs]
        a = self._a
        if a.use_tf_compat_v1:
            graph = a.graph
            path = beam_common.get_unique_temp_path(a.base_temp_dir)
            with graph.as_default():
                with tf.compat.v1.Session(graph=graph) as session:
                    ref = tf.compat.v1.get_collection_ref(
                        tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
                    original = list(ref)
                    del ref[:]
                    ref.extend(op.table_initializers)
                    session.run(tf.compat.v1.global_variables_initializer())
                    from tensorflow_transform.saved import saved_transform_io

                    saved_transform_io.write_saved_transform_from_session(
                        session, a.input_signature, op.output_signature, path)
                    del ref[:]
                    ref.extend(original)
            if bindings:
                path = beam_impl._replace_tensors_with_constant_values(
                    path, a.base_temp_dir, *bindings)
            return ([path],)
        outputs = op.output_signature
        names = ({k: v.name for k, v in outputs.items()}
                 if all(isinstance(v, tf.Tensor) for v in outputs.values()) else {})
        path = beam_impl._create_v2_saved_model(
            beam_impl._get_tensor_replacement_map(None, *bindings), a.base_temp_dir,
            a.preprocessing_fn, a.input_specs, a.analyzers_fingerprint, names,
            a.save_options)
        return ([path],)

    def _apply_saved_model(self, op, inputs):
        saved_model_dir = _one(inputs[0], "saved model")
        a = self._a
        fn = beam_impl._RunMetaGraphDoFn(
            beam_impl._FIXED_PARALLELISM_TF_CONFIG,
            shared_graph_state_handle=shared.Shared(),
            passthrough_keys=Context.get_passthrough_keys(),
            use_tf_compat_v1=a.use_tf_compat_v1,
            input_tensor_adapter_config=a.input_tensor_adapter_config)
        fn.setup()
        out = []
        for batch in inputs[1]:
            for result in fn.process(batch, saved_model_dir=saved_model_dir):
                if not a.use_tf_compat_v1:
                    result = {k: np.asarray(v) if isinstance(v, tf.Tensor) else v
                              for k, v in result.items()}
                out.append(result)
        return (out,)

    def _extract_from_dict(self, op, inputs):
        keys = op.keys
        if isinstance(keys, tuple):
            return ([tuple(d[k] for k in keys) for d in inputs[0]],)
        return ([d[keys] for d in inputs[0]],)

    def _tensor_binding(self, op, inputs):
        return ([beam_impl._TensorBinding(v, op.tensor_name, op.dtype_enum,
                                          op.is_asset_filepath) for v in inputs[0]],)

    # combiners: tf.Transform's CombineFn wrappers, as its Beam implementation builds them
    @staticmethod
    def _combiner(packed: bool, merging: bool):
        def handler(op, inputs):
            if packed:
                fn = analyzer_impls._PackedCombinerWrapper(
                    op.combiners, is_combining_accumulators=merging)
            else:
                fn = analyzer_impls._CombinerWrapper(op.combiner,
                                                     is_combining_accumulators=merging)
            return (_combine(fn, inputs[0]),)
        return handler

    def _extract_outputs(self, op, inputs):
        outputs = _one(inputs[0], op.label)
        if len(outputs) != op.num_outputs:
            raise ValueError(f"Analyzer has {op.num_outputs} outputs but its "
                             f"implementation produced {len(outputs)} values")
        return tuple([o] for o in outputs)

    # vocabularies
    def _vocab_accumulate(self, op, inputs):
        kind = op.vocab_ordering_type
        ordering = analyzer_impls._VocabOrderingType
        counts: Dict[Any, Any] = {}
        if kind == ordering.FREQUENCY:
            for (batch,) in inputs[0]:
                for token in batch.tolist():
                    counts[token] = counts.get(token, 0) + 1
        elif kind == ordering.WEIGHTED_FREQUENCY:
            for batch, weights in inputs[0]:
                for token, w in zip(batch.tolist(), weights.tolist()):
                    counts[token] = counts.get(token, 0) + w
        else:
            raise Unsupported(f"vocabulary ordering {kind}")
        return (list(counts.items()),)

    def _vocab_merge(self, op, inputs):
        if op.vocab_ordering_type not in (analyzer_impls._VocabOrderingType.FREQUENCY,
                                          analyzer_impls._VocabOrderingType.WEIGHTED_FREQUENCY):
            raise Unsupported(f"vocabulary ordering {op.vocab_ordering_type}")
        merged: Dict[Any, Any] = {}
        for token, count in inputs[0]:
            merged[token] = merged.get(token, 0) + count
        return ([(count, token) for token, count in merged.items()],)

    def _vocab_count(self, op, inputs):
        return ([np.int64(np.maximum(len(inputs[0]), 1))],)

    def _vocab_prune(self, op, inputs):
        if op.key_fn or (op.informativeness_threshold is not None
                         and op.informativeness_threshold > float("-inf")):
            raise Unsupported("vocabulary with coverage or informativeness")
        if op.top_k is not None and op.top_k < 0:
            raise ValueError(f"top_k for VocabularyImpl should be >= 0 or None, got {op.top_k}.")
        return (_top_k_ordered(inputs[0], op.frequency_threshold, op.top_k, op.input_dtype),)

    def _vocab_write(self, op, inputs):
        if op.file_format != "text" or op.fingerprint_shuffle:
            raise Unsupported(f"vocabulary file {op.file_format}, fingerprint_shuffle "
                              f"{op.fingerprint_shuffle}")
        counts = list(inputs[0])
        reserved = _one(inputs[1], "reserved tokens") if len(inputs) > 1 else None
        if not (op.input_is_sorted and not reserved):
            if reserved:
                (reserved,) = reserved
                keep = set(reserved)
                counts = [c for c in counts if c[1] not in keep]
            counts.sort(reverse=True)
            if reserved is not None:
                counts[:0] = [(-1, t) for t in reserved]
            counts = analyzer_impls.maybe_add_empty_vocabulary_dummy(counts, op.input_dtype)
        if op.store_frequency:
            lines = [analyzer_impls._count_and_token_to_bytes(c, t) for c, t in counts]
        else:
            lines = [t for _, t in counts]
        path = os.path.join(self._a.base_temp_dir, op.vocab_filename)
        tf.io.gfile.makedirs(self._a.base_temp_dir)
        with tf.io.gfile.GFile(path, "wb") as f:
            for line in lines:
                f.write(tf.compat.as_bytes(line) + b"\n")
        return ([np.array(path)],)

    def _reserved_tokens(self, op, inputs):
        from tensorflow_transform import tf_utils

        return ([[tf_utils.fetch_vocabulary_reserved_tokens(self._a.graph, op.name)]],)


@dataclasses.dataclass
class Analysis:
    """What ``AnalyzeDataset`` yields: the transform_fn SavedModel's folder, the
    transformed data's metadata (as the Beam path's deferred metadata) and the asset map."""

    transform_fn_dir: str
    metadata: Any
    asset_map: Dict[str, str]


def analyze(preprocessing_fn, batches: Mapping[Any, Iterable[Any]], tensor_adapter_config,
            use_tf_compat_v1: bool, save_options=None) -> Analysis:
    """``tft_beam.AnalyzeDatasetWithCache`` without a cache and without Beam: the same
    tracing, plan and metadata inference (``tensorflow_transform/beam/impl.py``), run by
    ``InProcessVisitor``. Call inside a ``tft_beam.Context`` (its temp dir and TF1 flag).
    ``batches``: Arrow RecordBatches per dataset key (a list, or a ``Reread`` stream
    read once per phase)."""
    specs = TensorAdapter(tensor_adapter_config).OriginalTypeSpecs()
    if not specs:
        raise ValueError("The input metadata is empty.")
    base_temp_dir = Context.create_base_temp_dir()
    graph, structured_inputs, structured_outputs = impl_helper.trace_preprocessing_function(
        preprocessing_fn, specs, use_tf_compat_v1, base_temp_dir)
    if not isinstance(structured_outputs, dict):
        raise ValueError("A `preprocessing_fn` must return a Dict[str, Union[tf.Tensor, "
                         f"tf.SparseTensor, tf.RaggedTensor]]. Got: {structured_outputs}")
    if not structured_outputs:
        raise ValueError("The preprocessing function returned an empty dict")
    if graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES):
        raise ValueError("The preprocessing function contained trainable variables")
    asset_map = annotators.get_asset_annotations(graph)
    annotators.clear_asset_annotations(graph)
    fingerprint = (None if use_tf_compat_v1
                   else graph_tools.get_analyzers_fingerprint(graph, structured_inputs))
    args = _Args(base_temp_dir=base_temp_dir, graph=graph, input_signature=structured_inputs,
                 input_specs=specs, input_tensor_adapter_config=tensor_adapter_config,
                 use_tf_compat_v1=use_tf_compat_v1, preprocessing_fn=preprocessing_fn,
                 analyzers_fingerprint=fingerprint,
                 save_options=save_options if save_options is not None
                 else Context.get_save_options(), batches=batches)
    transform_fn_future, _, detached = analysis_graph_builder.build(
        graph, structured_inputs, structured_outputs, list(batches.keys()), cache_dict=None)
    visitor = InProcessVisitor(args)
    try:
        traverser = nodes.Traverser(visitor)
        path = _one(traverser.visit_value_node(transform_fn_future), "transform_fn")
        for node in detached:
            traverser.visit_value_node(node)
    finally:
        visitor.close()
    del traverser  # its values (every phase's analyzer inputs) go now, not at a gc
    metadata = beam_impl._infer_metadata_from_saved_model(path, use_tf_compat_v1)
    return Analysis(path, metadata, asset_map)


def supported_here() -> Optional[str]:
    """Why this TFT cannot be run in process (private names it relies on are missing),
    or None."""
    needed = ((beam_impl, ("_RunMetaGraphDoFn", "_TensorBinding", "_create_v2_saved_model",
                           "_get_tensor_replacement_map", "_replace_tensors_with_constant_values",
                           "_infer_metadata_from_saved_model", "_FIXED_PARALLELISM_TF_CONFIG",
                           "_convert_to_record_batch")),
              (analyzer_impls, ("_CombinerWrapper", "_PackedCombinerWrapper",
                                "_VocabOrderingType", "maybe_add_empty_vocabulary_dummy",
                                "_count_and_token_to_bytes")))
    missing = [f"{m.__name__}.{n}" for m, names in needed for n in names if not hasattr(m, n)]
    return f"tf.Transform lacks {', '.join(missing)}" if missing else None


def transform_batches(transform_fn_dir: str, metadata, batches: Iterable[Any],
                      tensor_adapter_config, use_tf_compat_v1: bool) -> Iterator[Any]:
    """``tft_beam.TransformDataset(output_record_batches=True)`` on an iterable: yields
    (RecordBatch, passthrough dict) pairs of the transformed data, one input batch at a
    time."""
    passthrough = Context.get_passthrough_keys()
    fn = beam_impl._RunMetaGraphDoFn(
        beam_impl._FIXED_PARALLELISM_TF_CONFIG, shared_graph_state_handle=shared.Shared(),
        passthrough_keys=passthrough, use_tf_compat_v1=use_tf_compat_v1,
        input_tensor_adapter_config=tensor_adapter_config)
    fn.setup()
    converter = impl_helper.make_tensor_to_arrow_converter(metadata.schema)
    for batch in batches:
        for result in fn.process(batch, saved_model_dir=transform_fn_dir):
            yield from beam_impl._convert_to_record_batch(
                result, converter=converter, passthrough_keys=passthrough,
                input_metadata=tensor_adapter_config, validate_varlen_sparse_values=False)
