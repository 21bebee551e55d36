"""Where Beam arguments run a component's Beam work (``runner.py``)."""


def test_in_memory_args():
    from tfxkit.components.common.runner import in_memory

    assert in_memory([])
    assert in_memory(["--direct_running_mode=in_memory", "--setup_file=/x/setup.py"])
    assert in_memory(["--runner=DirectRunner", "--direct_num_workers=1"])
    assert not in_memory(["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert not in_memory(["--direct_running_mode=multi_threading"])
    assert not in_memory(["--direct_num_workers=4"])
    assert not in_memory(["--runner=DataflowRunner", "--project=p"])
    assert not in_memory(["--runner=FlinkRunner"])
