"""Baseline resolver: the latest blessed model other than the candidate."""
