"""Rolling window of spans for continuous training."""
