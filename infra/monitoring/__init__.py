"""Monitoring of served traffic (``tfxkit monitor``): the request log read per window,
TFDV statistics of its features and outputs, skew against the serving model's training
statistics and drift against the previous window (TFDV's comparators), the result as JSON
and in ML Metadata linked to the serving model. Plain functions; nothing heavy at import."""
