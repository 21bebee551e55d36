"""run_pipeline(from_nodes=...) refuses, before anything runs, an unknown component
(naming the pipeline's components) and a partial run with no earlier run to reuse."""
import os

import pytest


def test_partial_run_checks_before_running(template_copy):
    from tfxkit.infra.run.local_runner import NoPreviousRun, UnknownComponent, run_pipeline
    from tfxkit.pipelines.config import load_config
    from tfxkit.pipelines.factory import create_pipeline

    cfg = load_config(template_copy("multiclass") / "config.yaml")
    pipeline = create_pipeline(cfg)
    started = []
    with pytest.raises(UnknownComponent, match=r"'Trainr'.*ExampleGen, StatisticsGen.*Pusher"):
        run_pipeline(pipeline, on_start=started.append, from_nodes=["Trainr"])
    with pytest.raises(NoPreviousRun, match="no earlier run"):
        run_pipeline(pipeline, on_start=started.append, from_nodes=["Trainer"])
    assert started == [] and not os.path.isdir(os.path.join(cfg.pipeline_root, "Trainer"))


def test_release_memory_hands_freed_heap_back():
    """200 MB of small buffers freed below a live one stay in RSS until malloc_trim."""
    import numpy as np
    import psutil

    from tfxkit.infra.run.local_runner import release_memory

    me = psutil.Process()
    freed = [np.ones(1000) for _ in range(25_000)]  # 8 KB each: the C heap, not mmap
    live = [np.ones(10) for _ in range(1000)]       # allocated after: keeps the heap's top
    before = me.memory_info().rss
    del freed
    assert release_memory() is True
    assert me.memory_info().rss < before - 100 * 2**20
    assert len(live) == 1000
