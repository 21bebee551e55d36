"""``tfxkit generate eta-segments``: trips as their road segments, Parquet or CSV."""
import pyarrow as pa
import pyarrow.parquet as pq

from tests.unit.infra.cli.test_use_case import run


def test_generate_eta_segments_parquet_and_csv(tmp_path):
    r = run("generate", "eta-segments", "--rows", "30", "--out", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    t = pq.read_table(tmp_path / "p" / "trips.parquet")
    seg = t.schema.field("segments").type
    # the child field's name differs between pyarrow versions ("item", "element"): compare types
    assert t.num_rows == 30 and pa.types.is_list(seg) and seg.value_type == pa.string()
    r = run("generate", "eta-segments", "--rows", "5", "--format", "csv", "--seed", "3",
            "--out", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "c" / "trips.csv").read_text().splitlines()
    assert lines[0] == "trip_id,hour,distance_km,segments,segment_km,duration_min"
    assert len(lines) == 6 and "|" in lines[1]
    r = run("generate", "eta", "--format", "csv", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--format is not an option of eta" in r.stderr
    r = run("generate", "eta-segments", "--days", "2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "(it takes --rows, --format)" in r.stderr
