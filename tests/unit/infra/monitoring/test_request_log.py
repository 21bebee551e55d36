"""The request log reader (``infra/monitoring/request_log.py``) on files in the serving
contract's format: window bounds, hour files, a torn last line, the default folder."""
import json
import os

from tfxkit.infra.monitoring import request_log

H = 1796083200  # 2026-12-01T00:00:00Z


def line(ts, **features):
    return {"ts": ts, "request_id": f"r{ts}", "model": "m", "model_version": "1",
            "arm": "stable", "route": "/predict", "latency_ms": 1.0,
            "features": features, "outputs": {"class": "A", "class_id": 0,
                                              "probabilities": [1.0, 0.0]}}


def write(folder, lines, torn=None):
    os.makedirs(folder, exist_ok=True)
    for ln in lines:
        with open(os.path.join(folder, request_log.file_name(ln["ts"])), "a") as f:
            f.write(json.dumps(ln) + "\n")
    if torn is not None:
        with open(os.path.join(folder, request_log.file_name(torn)), "a") as f:
            f.write('{"ts": %s, "request_id": "tor' % torn)


def test_file_names_are_utc_hours():
    assert request_log.file_name(H + 3599) == "requests-2026-12-01T00.jsonl"
    assert request_log.file_name(H + 3600) == "requests-2026-12-01T01.jsonl"
    assert request_log.hour_of("requests-2026-12-01T01.jsonl") == H + 3600
    assert request_log.hour_of("choices-2026-12-01.jsonl") is None


def test_window_bounds_are_start_inclusive_end_exclusive(tmp_path):
    folder = str(tmp_path)
    write(folder, [line(H - 1, a=1), line(H, a=2), line(H + 1800, a=3),
                   line(H + 3599.5, a=4), line(H + 3600, a=5)])
    w = request_log.read_window(folder, H, H + 3600)
    assert [r["features"]["a"] for r in w.records] == [2, 3, 4]
    assert w.rows == 3 and w.skipped == 0
    half = request_log.read_window(folder, H + 1800, H + 5400)
    assert [r["features"]["a"] for r in half.records] == [3, 4, 5]


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    folder = str(tmp_path)
    write(folder, [line(H + 1, a=1), line(H + 2, a=2)], torn=H + 3)
    w = request_log.read_window(folder, H, H + 3600)
    assert [r["features"]["a"] for r in w.records] == [1, 2]
    assert w.skipped == 1


def test_other_files_and_a_missing_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert request_log.read_window(str(tmp_path / "none"), H, H + 60).rows == 0
    assert request_log.log_hours(str(tmp_path)) == []


def test_window_ends_cover_the_logged_hours(tmp_path):
    folder = str(tmp_path)
    write(folder, [line(H + 10), line(H + 7200 + 10)])
    assert request_log.window_ends(folder, 3600) == [H + 3600, H + 7200, H + 10800]
    assert request_log.window_ends(folder, 1800, until=H + 3600) == [H + 1800, H + 3600]
    # the window still open at ``until`` is not judged
    assert request_log.window_ends(folder, 3600, until=H + 7300) == [H + 3600, H + 7200]
    assert request_log.window_ends(str(tmp_path / "none"), 3600) == []


def test_the_default_folder_is_beside_a_local_registry(tmp_path):
    from tfxkit.pipelines.config import load_config
    from tests.conftest import TEMPLATES

    cfg = load_config(TEMPLATES / "multiclass" / "config.yaml",
                      overrides=[f"push.registry={tmp_path}/models"])
    assert request_log.request_log_path(cfg) == f"{tmp_path}/models/requests"
    cfg = load_config(TEMPLATES / "multiclass" / "config.yaml",
                      overrides=["push.registry=gs://b/models"])
    assert request_log.request_log_path(cfg) == os.path.join(cfg.pipeline_root, "requests")
