"""A training or batch-inference run on this machine: the local runner (``local_runner``),
what MLMD says of a run's state and of runs whose process is gone (``state``), what a
training run records on its ``pipeline_run`` context (``properties``) and the summary
``tfxkit run`` prints when it ends (``summary``)."""
