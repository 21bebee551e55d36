"""pipelines/scaffold/profile.py: DuckDB profiles of CSV and Parquet data."""
import pytest

from tfxkit.pipelines.scaffold.profile import ProfileError, profile, resolve, write_sample

CSV = ("rid,size,area,color,note,target\n"
       "r1,1.5,10,red,,a\n"
       "r2,2.5,12,blue,,b\n"
       "r3,,11,red,,a\n"
       "r4,4.0,900,,,c\n")


@pytest.fixture
def data(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(CSV)
    return p


def test_profile_columns(data):
    prof = profile(str(data))
    assert prof.rows == 4 and prof.kind == "csv" and list(prof.columns) == [
        "rid", "size", "area", "color", "note", "target"]
    c = prof.columns
    assert c["rid"].kind == "string" and c["rid"].id_like
    assert c["size"].kind == "float" and c["size"].missing == 1 and c["size"].distinct == 3
    assert c["size"].min == 1.5 and c["size"].max == 4.0
    assert c["size"].mean == pytest.approx(8 / 3)
    assert c["area"].kind == "int" and not c["area"].id_like  # unique, not numbering rows
    assert c["area"].skew > 1
    assert c["color"].top == [("red", 2), ("blue", 1)] and c["color"].missing == 1
    assert c["note"].missing == 4
    assert c["target"].top[0] == ("a", 2)
    # the MAE of predicting the mean: |10 - 233.25| ... over the four areas
    mean = (10 + 12 + 11 + 900) / 4
    assert c["area"].mae_mean == pytest.approx(sum(abs(v - mean) for v in (10, 12, 11, 900)) / 4)


def test_integer_ids_by_name_or_numbering(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("user_id,n,x\n7,1,0.5\n3,2,0.5\n9,3,1.5\n")
    c = profile(str(p)).columns
    assert c["user_id"].id_like      # named like an id
    assert c["n"].id_like            # numbers the rows 1..3
    assert not c["x"].id_like


def test_parquet_folder_and_glob(tmp_path):
    import duckdb

    (tmp_path / "parts").mkdir()
    for i in range(2):
        duckdb.sql(f"COPY (SELECT {i} * 10 + range AS id, range * 1.5 AS x FROM range(5)) "
                   f"TO '{tmp_path / 'parts' / f'p{i}.parquet'}'")
    assert profile(str(tmp_path / "parts")).rows == 10
    assert profile(str(tmp_path / "parts" / "p*.parquet")).rows == 10
    assert resolve(str(tmp_path / "parts"))[0] == "parquet"


def test_bad_inputs(tmp_path):
    with pytest.raises(ProfileError, match="no such file or folder"):
        profile(str(tmp_path / "nope.csv"))
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(ProfileError, match="empty.csv: no rows"):
        profile(str(tmp_path / "empty.csv"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ProfileError, match="not a .csv or .parquet file"):
        profile(str(tmp_path / "notes.txt"))
    (tmp_path / "none").mkdir()
    with pytest.raises(ProfileError, match="no files found"):
        profile(str(tmp_path / "none"))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ProfileError, match="bad.parquet: cannot read it as parquet"):
        profile(str(tmp_path / "bad.parquet"))


def test_write_sample_drops_label_and_adds_key(data, tmp_path):
    prof = profile(str(data))
    out = tmp_path / "s.csv"
    assert write_sample(prof, str(out), drop=["target"], n=3) == 3
    lines = out.read_text().splitlines()
    assert lines[0] == "rid,size,area,color,note" and len(lines) == 4
    write_sample(prof, str(out), drop=["target", "rid"], n=2, add_key="row_id")
    assert out.read_text().splitlines()[0] == "row_id,size,area,color,note"
    assert [ln.split(",")[0] for ln in out.read_text().splitlines()[1:]] == ["1", "2"]
