"""The request body's instances read as a stream (infra/serving/json_body.py)."""
import pytest

from tfxkit.infra.serving.errors import InstanceError


@pytest.mark.parametrize("body", [
    b'{"instances": [{"a": 1, "b": [1.5, "x"]}, {"c": {"b64": "AAE="}}], "other": [1, {"x": 2}]}',
    b' \n{ "signature_name" : "x" , "instances" :[ ]}\n',
    b'{"instances": [{"a": "\\u00e9\\"]\\n"}]}',
    b'{"instances": [1, "x", null, [1, 2]]}',
])
def test_iter_instances_reads_what_orjson_reads(body):
    import orjson

    from tfxkit.infra.serving.json_body import iter_instances

    assert list(iter_instances(body)) == orjson.loads(body)["instances"]


@pytest.mark.parametrize("body, msg", [
    (b"{nope", "not JSON"), (b'{"instances": [1,]}', "not JSON"),
    (b'{"instances": [1] } x', "extra data"), (b'{"rows": []}', "expected {"),
    (b'[{"instances": []}]', "expected {"), (b'{"instances": 3}', "expected {"),
    (b'{"instances": [NaN]}', "not JSON"), (b'\xff', "not JSON"), (b"", "not JSON"),
])
def test_iter_instances_rejects_bad_bodies(body, msg):
    from tfxkit.infra.serving.json_body import iter_instances

    with pytest.raises(InstanceError) as e:
        list(iter_instances(body))
    assert msg in str(e.value)


def test_iter_instances_stops_at_max_instances():
    from tfxkit.infra.serving.errors import TooLarge
    from tfxkit.infra.serving.json_body import iter_instances

    seen = []
    with pytest.raises(TooLarge, match="more than 3 instances"):
        for x in iter_instances(b'{"instances": [1, 2, 3, 4, 5, oops', max_instances=3):
            seen.append(x)
    assert seen == [1, 2, 3]  # it stopped before decoding the rest
