"""Parquet ExampleGen executor that keeps zeros (stock TFX's drops them)."""
