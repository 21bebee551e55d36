"""Beam pipeline arguments (``beam_args.py``): the beam_pipeline_args each runner's config
produces, checked against Beam 2.59's own option parser, and TFX's sdist-rebuild trap
avoided."""
from pathlib import Path

from tfxkit.pipelines import beam_args
from tfxkit.pipelines.config import load_config
from tests.unit.pipelines.config.test_beam import TEMPLATE
from tests.unit.pipelines.test_factory import cfg  # noqa: F401 - the fixture


SETUP = f"--setup_file={beam_args.tfxkit_setup_file()}"


def args_of(*sets, profile=None):
    return beam_args.beam_pipeline_args(load_config(TEMPLATE, profile=profile,
                                                  overrides=list(sets)))


def beam_options(args):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(args).get_all_options(retain_unknown_options=True)


def test_in_memory_direct_gives_no_args():
    assert args_of() == []
    assert args_of("beam.runner=direct", "beam.mode=in_memory") == []


def test_direct_multi_processing():
    args = args_of(profile="parallel")
    assert args == ["--direct_running_mode=multi_processing", "--direct_num_workers=2", SETUP]
    opts = beam_options(args)
    assert opts["direct_running_mode"] == "multi_processing"
    assert opts["direct_num_workers"] == 2
    assert args_of("beam.mode=multi_threading", "beam.workers=4")[:2] == [
        "--direct_running_mode=multi_threading", "--direct_num_workers=4"]


def test_direct_args_skip_tfx_sdist_rebuild(monkeypatch):
    """TFX rebuilds itself as an sdist when no dependency option is given; tfxkit's
    direct args name tfxkit's setup.py, which the DirectRunner never stages."""
    from tfx.utils import dependency_utils

    def boom():
        raise AssertionError("TFX would rebuild itself as an sdist")

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", boom)
    args = args_of(profile="parallel")
    assert dependency_utils.make_beam_dependency_flags(list(args)) == args
    assert Path(beam_args.tfxkit_setup_file()).is_file()


def test_dataflow():
    args = args_of("beam.runner=dataflow",
                   "beam.dataflow={project: p1, region: europe-west1, "
                   "temp_location: gs://b/tmp, staging_location: gs://b/stage, "
                   "machine_type: n1-standard-4, max_workers: 10, num_workers: 2, "
                   "sdk_container_image: eu.gcr.io/p1/tfxkit:1, "
                   "service_account_email: sa@p1.iam.gserviceaccount.com, "
                   "experiments: [use_runner_v2]}")
    assert args == ["--runner=DataflowRunner", "--project=p1", "--region=europe-west1",
                    "--temp_location=gs://b/tmp", "--staging_location=gs://b/stage",
                    "--machine_type=n1-standard-4", "--num_workers=2", "--max_num_workers=10",
                    "--sdk_container_image=eu.gcr.io/p1/tfxkit:1",
                    "--service_account_email=sa@p1.iam.gserviceaccount.com",
                    "--experiments=use_runner_v2"]
    opts = beam_options(args)
    assert opts["runner"] == "DataflowRunner" and opts["project"] == "p1"
    assert opts["machine_type"] == "n1-standard-4" and opts["max_num_workers"] == 10
    assert opts["sdk_container_image"] == "eu.gcr.io/p1/tfxkit:1"
    assert opts["experiments"] == ["use_runner_v2"]


def test_dataflow_without_image_stages_tfxkit():
    args = args_of("beam.runner=dataflow",
                   "beam.dataflow={project: p, region: r, temp_location: gs://b/t}")
    assert args == ["--runner=DataflowRunner", "--project=p", "--region=r",
                    "--temp_location=gs://b/t", SETUP]


def test_flink():
    args = args_of("beam.runner=flink",
                   "beam.flink={flink_master: 'flink:8081', parallelism: 4, "
                   "environment_type: DOCKER, sdk_container_image: 'reg/tfxkit:1'}")
    assert args == ["--runner=FlinkRunner", "--flink_master=flink:8081", "--parallelism=4",
                    "--environment_type=DOCKER", "--sdk_container_image=reg/tfxkit:1"]
    opts = beam_options(args)
    assert opts["flink_master"] == "flink:8081" and opts["parallelism"] == 4
    assert opts["environment_type"] == "DOCKER"


def test_flink_job_server_with_worker_pool():
    args = args_of("beam.runner=flink",
                   "beam.flink={job_endpoint: 'localhost:8099', environment_type: EXTERNAL, "
                   "environment_config: 'localhost:50000'}")
    assert args == ["--runner=PortableRunner", "--job_endpoint=localhost:8099",
                    "--environment_type=EXTERNAL", "--environment_config=localhost:50000",
                    SETUP]
    opts = beam_options(args)
    assert opts["job_endpoint"] == "localhost:8099"
    assert opts["environment_config"] == "localhost:50000"


def test_spark():
    args = args_of("beam.runner=spark",
                   "beam.spark={spark_master_url: 'spark://m:7077', environment_type: PROCESS, "
                   "environment_config: '{\"command\": \"/opt/apache/beam/boot\"}', "
                   "setup_file: /src/setup.py}")
    assert args == ["--runner=SparkRunner", "--spark_master_url=spark://m:7077",
                    "--environment_type=PROCESS",
                    '--environment_config={"command": "/opt/apache/beam/boot"}',
                    "--setup_file=/src/setup.py"]
    opts = beam_options(args)
    assert opts["spark_master_url"] == "spark://m:7077"
    assert args_of("beam.runner=spark", "beam.spark={job_endpoint: 'js:8099', "
                   "environment_type: LOOPBACK}")[:3] == [
        "--runner=PortableRunner", "--job_endpoint=js:8099", "--environment_type=LOOPBACK"]


def test_extra_args_come_last_and_may_name_dependencies():
    args = args_of("beam.runner=flink", "beam.flink={flink_master: 'f:8081'}",
                   "beam.extra_args=['--extra_package=/dist/mine.tar.gz']")
    assert args == ["--runner=FlinkRunner", "--flink_master=f:8081",
                    "--extra_package=/dist/mine.tar.gz"]


def test_a_profile_picks_the_runner_over_base_sections():
    # the base may keep a dataflow section while the direct runner is in use
    args = args_of("beam.dataflow={project: p, region: r, temp_location: gs://b/t}")
    assert args == []


def test_beam_args(cfg):
    assert beam_args.beam_pipeline_args(cfg) == []
    c = cfg.model_copy(update={"beam": cfg.beam.model_copy(
        update={"mode": "multi_processing", "workers": 2})})
    assert beam_args.beam_pipeline_args(c) == ["--direct_running_mode=multi_processing",
                                             "--direct_num_workers=2",
                                             f"--setup_file={beam_args.tfxkit_setup_file()}"]


# -- beam.mode: auto (the default): the direct runner's mode from the data's size ---------

def _cfg(*sets):
    return load_config(TEMPLATE, overrides=list(sets))


def test_auto_is_the_default_and_small_data_stays_in_memory():
    c = _cfg()
    assert c.beam.mode == "auto"
    n = beam_args.data_bytes(c)
    assert 0 < n < c.beam.auto_min_mb * 1e6  # the penguins CSV
    m = beam_args.direct_mode(c, n, n_cores=2)
    assert (m.mode, m.workers) == ("in_memory", 0)
    assert "MB of data <" in m.reason
    assert beam_args.beam_pipeline_args(c) == []  # no Beam arguments at all


def test_auto_on_both_sides_of_the_threshold():
    c = _cfg("beam.auto_min_mb=10")
    below = beam_args.direct_mode(c, 9_999_999, n_cores=4)
    at = beam_args.direct_mode(c, 10_000_000, n_cores=4)
    assert below.mode == "in_memory"
    assert (at.mode, at.workers) == ("multi_processing", 4)
    assert at.text().startswith("multi_processing, 4 workers (auto: 10.0 MB of data >= 10 MB")
    # workers = cores, unless beam.workers says otherwise
    assert beam_args.direct_mode(c, 10**9, n_cores=16).workers == 16
    assert beam_args.direct_mode(_cfg("beam.auto_min_mb=10", "beam.workers=3"), 10**9,
                                 n_cores=4).workers == 3
    assert beam_args.direct_mode(c, None, n_cores=4).mode == "in_memory"  # size unknown


def test_auto_stays_in_memory_below_the_core_count():
    # measured: on 2 cores Beam's worker processes cost more than they save (README)
    c = _cfg("beam.auto_min_mb=10")
    two = beam_args.direct_mode(c, 10**10, n_cores=2)
    assert two.mode == "in_memory" and "2 cores < 4" in two.reason
    assert beam_args.direct_mode(c, 10**10, n_cores=1).mode == "in_memory"
    m = beam_args.direct_mode(_cfg("beam.auto_min_mb=10", "beam.auto_min_cores=2"), 10**10,
                              n_cores=2)
    assert (m.mode, m.workers) == ("multi_processing", 2)


def test_auto_resolved_from_the_source_files_in_the_args():
    # the template's data (~13 kB) over a threshold of 1 kB: multi_processing, a worker
    # per core, and the setup file that keeps TFX from rebuilding itself
    args = args_of("beam.auto_min_mb=0.001", "beam.auto_min_cores=2")
    n = beam_args.cores()
    if n < 2:
        assert args == []
    else:
        assert args == ["--direct_running_mode=multi_processing",
                        f"--direct_num_workers={n}", SETUP]
        assert beam_options(args)["direct_running_mode"] == "multi_processing"
    # the inference pipeline sizes its own source
    c = _cfg("beam.auto_min_mb=0.001")
    assert beam_args.data_bytes(c, c.inference.source) > 0
    # a machine below auto_min_cores (4 by default) keeps Beam in this process
    if n < 4:
        assert args_of("beam.auto_min_mb=0.001") == []


def test_an_explicit_mode_wins_over_the_size():
    assert args_of("beam.mode=in_memory", "beam.auto_min_mb=0.001") == []
    c = _cfg("beam.mode=in_memory")
    m = beam_args.direct_mode(c, 10**12, n_cores=16)
    assert (m.mode, m.reason) == ("in_memory", "beam.mode in the config")
    assert args_of("beam.mode=multi_threading", "beam.workers=2",
                   "beam.auto_min_mb=1000")[:2] == [
        "--direct_running_mode=multi_threading", "--direct_num_workers=2"]


def test_non_direct_runners_are_untouched_by_auto():
    args = args_of("beam.runner=dataflow", "beam.auto_min_mb=0.001", "beam.auto_min_cores=2",
                   "beam.dataflow={project: p, region: r, temp_location: gs://b/t}")
    assert not any(a.startswith("--direct_") for a in args)
    assert args[0] == "--runner=DataflowRunner"
    c = _cfg("beam.runner=flink", "beam.flink={flink_master: 'f:8081'}")
    assert beam_args.beam_text(c) == "flink runner (beam.runner)"


def test_remote_or_bigquery_data_has_no_size_here():
    c = _cfg("data.source={csv: 'gs://bucket/penguins/*.csv'}")
    assert beam_args.data_bytes(c) is None
    assert "not known" in beam_args.beam_text(c)


def test_transform_runs_in_process_on_small_data_in_memory_only():
    """beam.in_process_max_mb (default 512) applies on the direct runner in memory; a mode,
    a runner or extra arguments the user chose keep Transform on Beam; 0 turns it off."""
    assert beam_args.transform_in_process_bytes(_cfg()) == 512_000_000
    assert beam_args.transform_in_process_bytes(_cfg("beam.in_process_max_mb=0.5")) == 500_000
    for sets in (["beam.in_process_max_mb=0"], ["beam.mode=multi_processing"],
                 ["beam.mode=multi_threading"],
                 ["beam.auto_min_mb=0.001", "beam.auto_min_cores=2"],
                 ["beam.extra_args=[--direct_num_workers=1]"]):
        c = _cfg(*sets)
        if sets[0].startswith("beam.auto_min_mb") and beam_args.cores() < 2:
            continue
        assert beam_args.transform_in_process_bytes(c) == 0, sets
    assert beam_args.transform_in_process_bytes(load_config(
        TEMPLATE, profile="parallel")) == 0
