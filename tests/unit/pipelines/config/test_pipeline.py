"""The top level of a config (``config/pipeline.py``: name, label, label_classes and the
checks across sections): a bad config fails naming the field and the reason."""
from tests.unit.pipelines.config.test_loader import BASE, load_err, write


def test_missing_label(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("label: species\n", "")))
    assert e.field == "label" and "missing" in e.reason


def test_bad_name(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("name: demo", "name: My_Demo")))
    assert e.field == "name"


def test_label_also_feature(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[bill, mass]", "[bill, mass, species]")))
    assert "also listed as a feature" in str(e)


def test_duplicate_label_classes(tmp_path):
    e = load_err(write(tmp_path, BASE + "label_classes: [A, B, A]\n"))
    assert e.field == "label_classes" and "distinct" in e.reason
