"""Evaluator: TFMA metrics on whole batches for the metrics that are plain sums (see in_process.py)."""
