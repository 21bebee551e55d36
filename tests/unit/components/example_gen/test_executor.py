"""ArrowExampleGen's executor (``example_gen/executor.py``): a span whose columns differ
from the previous span's is refused; remote (gs://) data and artifacts are staged through
a local folder."""
import pytest

from tfxkit.components.example_gen import ingest
from tests.unit.components.example_gen.test_ingest import write_csv
from tests.unit.infra.deploy.test_compiler import ROOT


def test_span_columns_must_match_previous_span(tmp_path):
    from tfxkit.components.example_gen.executor import check_span_columns

    write_csv(tmp_path / "day-1.csv", ["1,1.0,a"])
    write_csv(tmp_path / "day-2.csv", ["2,2.0,b"])
    params = {"kind": "csv", "pattern": "day-{SPAN}.csv"}
    check_span_columns(params, str(tmp_path), [str(tmp_path / "day-2.csv")], 2)  # same: ok
    write_csv(tmp_path / "day-3.csv", ["3,x,c"], header="id,x,s")          # retyped
    with pytest.raises(ingest.IngestError, match="span 3 .* does not match span 2: column 'x' "
                                                 "changed type DOUBLE -> VARCHAR"):
        check_span_columns(params, str(tmp_path), [str(tmp_path / "day-3.csv")], 3)
    write_csv(tmp_path / "day-4.csv", ["4,4.0,d"], header="id,x,label")      # renamed
    with pytest.raises(ingest.IngestError, match="'s' \\(VARCHAR\\) is gone; column 'label' "):
        check_span_columns(params, str(tmp_path), [str(tmp_path / "day-4.csv")], 4)
    check_span_columns(params, str(tmp_path), [str(tmp_path / "day-1.csv")], 1)  # first span


def test_arrow_example_gen_runs_on_remote_uris():
    """On Kubeflow / Vertex the data and the artifact are gs:// URIs: the executor stages
    them through a local folder (here TensorFlow's ram:// file system stands in for GCS)."""
    from google.protobuf.message import Message
    from tfx.dsl.io import fileio
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.components.example_gen.executor import Executor

    base = "ram://tfxkit-deploy-test/data"
    fileio.makedirs(base)
    fileio.copy(str(ROOT / "templates/multiclass/data/penguins.csv"), f"{base}/penguins.csv",
                overwrite=True)
    comp = ArrowExampleGen(input_base=base, pattern="*.csv")
    props = {k: proto_utils.proto_to_json(v) if isinstance(v, Message) else v
             for k, v in comp.exec_properties.items() if v is not None}
    examples = standard_artifacts.Examples()
    examples.uri = "ram://tfxkit-deploy-test/ExampleGen/examples/1"
    Executor().Do({}, {"examples": [examples]}, props)
    rows = examples.get_int_custom_property("rows_train") + \
        examples.get_int_custom_property("rows_eval")
    assert rows == 344
    for split in ("train", "eval"):
        written = fileio.glob(f"{examples.uri}/Split-{split}/*")
        assert len(written) == 1 and written[0].endswith(".gz")


def test_bad_numbers_rejected_are_counted_on_the_artifact(tmp_path):
    """data.on_bad_value: reject: the rows whose numeric column is not a number are
    dropped, and the Examples artifact says how many (and why)."""
    import json

    from google.protobuf.message import Message
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.components.example_gen.executor import Executor

    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "day-1.csv", ["1,3750,a", "2,3800,b"], header="id,mass,s")
    write_csv(tmp_path / "data" / "day-2.csv",
              [f"{i},{3000 + i},a" for i in range(10)] + ["10,heavy,b", "11,,c", "12,x,d"],
              header="id,mass,s")
    comp = ArrowExampleGen(input_base=str(tmp_path / "data"), pattern="day-{SPAN}.csv",
                           numeric=["mass"], on_bad_value="reject")
    props = {k: proto_utils.proto_to_json(v) if isinstance(v, Message) else v
             for k, v in comp.exec_properties.items() if v is not None}
    # as the driver resolves span 2; the day before had no text in 'mass': no schema change
    props["input_config"] = props["input_config"].replace("day-{SPAN}.csv", "day-2.csv")
    props["span"] = 2
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    Executor().Do({}, {"examples": [examples]}, props)
    assert examples.get_int_custom_property("bad_value_rows_rejected") == 2
    assert examples.get_int_custom_property("rows_rejected") == 2
    assert json.loads(examples.get_string_custom_property("rejections")) == {
        "a value that is not a number in 'mass'": 2}
    assert examples.get_int_custom_property("rows_train") + \
        examples.get_int_custom_property("rows_eval") == 11
    # without reject the parameters stay what they were (cache keys unchanged)
    plain = ArrowExampleGen(input_base=str(tmp_path / "data"), pattern="*.csv",
                            numeric=["mass"])
    assert "numeric" not in json.loads(plain.exec_properties["ingest"])
    with pytest.raises(ValueError, match="on_bad_value must be fail or reject"):
        ArrowExampleGen(input_base=str(tmp_path), on_bad_value="drop")
