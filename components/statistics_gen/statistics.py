"""Dataset statistics in this process with TFDV's own generators, for StatisticsGen on
data a Beam pipeline would only add start-up to.

TFDV's ``generate_statistics_in_memory`` runs its combiner generators on one Arrow
RecordBatch; ``split_statistics`` feeds them batch by batch (what Beam's CombineGlobally
does) and extracts the same ``DatasetFeatureStatisticsList``. In memory TFDV counts top
values and uniques with its Misra-Gries and KMV sketches, which are exact while a
feature has at most ``EXACT_UNIQUES`` distinct values; Beam's default counts them
exactly. ``sketch_inexact`` names a feature beyond that (the caller then runs Beam).
"""
from __future__ import annotations

from typing import Any, List, Optional

EXACT_UNIQUES = 1024  # TFDV's in-memory Misra-Gries sketch size (stats_impl)
BATCH_ROWS = 10_000


class TooManyValues(Exception):
    """A feature has more distinct values than the in-memory sketches count exactly."""


def first_batch_check(record_batch) -> Optional[str]:
    """A byte-string column with more than ``EXACT_UNIQUES`` distinct values in this
    batch already (a key, an id), so the statistics would not be exact; or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, column in zip(record_batch.schema.names, record_batch.columns):
        values = column
        while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            values = values.flatten()
        if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
                or pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            continue
        n = pc.count_distinct(values).as_py()
        if n > EXACT_UNIQUES:
            return f"{name}: {n} distinct values > {EXACT_UNIQUES}"
    return None


def split_statistics(tfxio, options) -> Any:
    """The statistics of every record a TFXIO reads (a DatasetFeatureStatisticsList).
    Raises ``TooManyValues`` when the first batch already shows a feature beyond what
    the sketches count exactly (``sketch_inexact`` checks the whole split after)."""
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.tfxio import dataset_options

    generators = stats_impl.get_generators(options, in_memory=True)
    accumulators = [g.create_accumulator() for g in generators]
    batches = tfxio.RecordBatches(dataset_options.RecordBatchesOptions(
        batch_size=BATCH_ROWS, drop_final_batch=False, num_epochs=1, shuffle=False))
    for i, record_batch in enumerate(batches):
        if i == 0:
            early = first_batch_check(record_batch)
            if early:
                raise TooManyValues(early)
        partial = stats_impl.generate_partial_statistics_in_memory(
            record_batch, options, generators)
        accumulators = [g.merge_accumulators([a, p])
                        for g, a, p in zip(generators, accumulators, partial)]
    return stats_impl.extract_statistics_output(accumulators, generators)


def sketch_inexact(stats) -> Optional[str]:
    """A feature with more distinct values than TFDV's in-memory sketches count exactly
    (``"<feature>: N distinct values > 1024"``), or None."""
    out: List[str] = []
    for dataset in stats.datasets:
        for feature in dataset.features:
            if feature.HasField("string_stats") and feature.string_stats.unique > EXACT_UNIQUES:
                name = ".".join(feature.path.step) or feature.name
                out.append(f"{name}: {feature.string_stats.unique} distinct values > "
                           f"{EXACT_UNIQUES}")
    return "; ".join(out) or None
