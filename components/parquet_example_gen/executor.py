"""FileBasedExampleGen executor for Parquet (files, folders, globs).

Stock TFX's parquet executor converts rows with ``example_gen.utils.dict_to_example``,
which treats any falsy value as missing: every 0, 0.0 and empty string is silently
dropped. This one encodes Arrow record batches with tfx_bsl's C++ encoder: nulls become
absent features and zeros stay zeros.
"""
import os
from typing import Any, Dict

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import standard_component_specs

from tfxkit.components.parquet_example_gen import encode


def _encode_file(path: str):
    for batch in encode.iter_parquet_batches(path):
        for serialized in encode.record_batch_to_examples(batch):
            yield tf.train.Example.FromString(serialized)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ParquetToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                      split_pattern: str) -> beam.pvalue.PCollection:
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                           split_pattern)
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no Parquet file matches {pattern}")
    return (pipeline
            | "ListFiles" >> beam.Create(files)
            | "Reshuffle" >> beam.Reshuffle()
            | "Encode" >> beam.FlatMap(_encode_file))


class Executor(BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ParquetToExample
