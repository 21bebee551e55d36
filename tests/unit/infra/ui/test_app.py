"""The dashboard app through FastAPI's TestClient: every page answers and shows what MLMD
and the registry hold; the token is required when set; writes are refused without
--allow-writes (403), without the form's CSRF token (403) and without confirmation (400),
and a confirmed rollback / alias is recorded in the registry's history like the CLI's."""
import json
import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.ui import data
from tfxkit.infra.ui.app import create_app
from tfxkit.infra.ui.sources import load_use_cases


def _client(path, **kw):
    return TestClient(create_app(load_use_cases([str(path)]), **kw))


def _csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_every_page_answers(ui_case):
    path, cfg, written = ui_case
    c = _client(path)
    home = c.get("/")
    assert home.status_code == 200 and f'data-use-case="{cfg.name}"' in home.text
    assert f'<td class="num runs-count">{len(written)}</td>' in home.text
    serving = Registry(cfg.registry_path).serving().version
    assert f"version <b>{serving}</b>" in home.text
    runs = c.get(f"/u/{cfg.name}")
    assert runs.status_code == 200
    assert re.findall(r'<tr class="run" data-run="([^"]+)"', runs.text) == \
        [rid for rid, _ in reversed(written)]
    rid = written[1][0]
    run = c.get(f"/u/{cfg.name}/runs/{quote(rid)}")
    assert run.status_code == 200 and f'<span id="run-id">{rid}</span>' in run.text
    assert 'id="timeline"' in run.text and "<svg" in run.text
    cmp = c.get(f"/u/{cfg.name}/compare", params=[("run", written[0][0]), ("run", rid)])
    assert cmp.status_code == 200 and 'data-key="model.learning_rate"' in cmp.text
    assert c.get(f"/u/{cfg.name}/lineage").status_code == 200
    lin = c.get(f"/u/{cfg.name}/lineage", params={"version": serving})
    assert lin.status_code == 200 and 'id="lineage-nodes"' in lin.text
    nodes = json.loads(re.search(r'id="lineage-nodes">(.*?)</script>', lin.text, re.S).group(1))
    assert any(n["kind"] == "file" and n["uri"].endswith("penguins.csv") for n in nodes.values())
    models = c.get(f"/u/{cfg.name}/models")
    assert models.status_code == 200 and f'<b id="serving-version">{serving}</b>' in models.text
    assert "rollback-button" not in models.text  # read-only: no write forms
    assert c.get(f"/u/{cfg.name}/serving").status_code == 200
    assert c.get("/static/ui.js").status_code == 200


def test_filters_on_the_server(ui_case):
    path, cfg, written = ui_case
    c = _client(path)
    r = c.get(f"/u/{cfg.name}", params={"state": "failed"})
    assert re.findall(r'<tr class="run" data-run="([^"]+)"', r.text) == \
        [rid for rid, w in reversed(written) if w.get("failed")]


def test_unknown_things_are_404_naming_them(ui_case):
    path, cfg, _ = ui_case
    c = _client(path)
    r = c.get("/u/nope")
    assert r.status_code == 404 and "no use case &#39;nope&#39;" in r.text
    r = c.get(f"/u/{cfg.name}/runs/nope")
    assert r.status_code == 404 and "no run &#39;nope&#39;" in r.text
    r = c.get(f"/u/{cfg.name}/lineage", params={"version": "999"})
    assert r.status_code == 404 and "no model version &#39;999&#39;" in r.text
    r = c.get(f"/u/{cfg.name}/compare", params={"run": "x"})
    assert r.status_code == 404


def test_token_required_when_set(ui_case):
    path, cfg, _ = ui_case
    c = _client(path, token="s3cret")
    assert c.get("/").status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.get(f"/u/{cfg.name}?token=s3cret", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/u/{cfg.name}"
    assert "tfxkit_ui_token=s3cret" in r.headers["set-cookie"]
    assert c.get(f"/u/{cfg.name}").status_code == 200  # the cookie now
    c.cookies.clear()
    assert c.get(f"/u/{cfg.name}?token=nope").status_code == 401
    assert c.post(f"/u/{cfg.name}/models/rollback", data={"version": "1"}).status_code == 401


def test_writes_refused_without_the_flag(ui_case):
    path, cfg, _ = ui_case
    before = open(Registry(cfg.registry_path).index_path).read()
    c = _client(path)
    r = c.post(f"/u/{cfg.name}/models/rollback", data={"version": "1", "confirm": "1"})
    assert r.status_code == 403 and "--allow-writes" in r.text
    r = c.post(f"/u/{cfg.name}/models/alias", data={"alias_name": "a", "version": "1"})
    assert r.status_code == 403
    assert open(Registry(cfg.registry_path).index_path).read() == before


def test_rollback_and_alias_with_writes(ui_case, tmp_path):
    import shutil

    path, cfg, written = ui_case
    case = tmp_path / "case"
    shutil.copytree(path.parent, case)  # the registry is changed: a copy
    [uc] = load_use_cases([str(case / "config.yaml")])
    reg = uc.registry()
    c = TestClient(create_app([uc], allow_writes=True))
    page = c.get(f"/u/{cfg.name}/models")
    assert "rollback-button" in page.text
    token = _csrf(page.text)
    versions = data.model_versions(reg)["versions"]
    serving, older = versions[0]["version"], versions[1]["version"]
    url = f"/u/{cfg.name}/models/rollback"
    # no CSRF token, a wrong one, no confirmation, a confirmation of another version
    assert c.post(url, data={"version": older, "confirm": older}).status_code == 403
    assert c.post(url, data={"version": older, "confirm": older,
                             "csrf_token": "x"}).status_code == 403
    assert c.post(url, data={"version": older, "csrf_token": token}).status_code == 400
    assert c.post(url, data={"version": older, "csrf_token": token,
                             "confirm": serving}).status_code == 400
    assert reg.serving().version == serving
    r = c.post(url, data={"version": "999", "csrf_token": token, "confirm": "999"})
    assert r.status_code == 404 and "999" in r.text
    r = c.post(url, data={"version": older, "csrf_token": token, "confirm": older,
                          "reason": "bad canary"}, follow_redirects=False)
    assert r.status_code == 303
    assert reg.serving().version == older
    last = reg.history()[-1]
    assert (last["action"], last["version"], last["previous"], last["reason"]) == \
        ("rollback", older, serving, "bad canary")
    assert f'<b id="serving-version">{older}</b>' in c.get(r.headers["location"]).text
    # aliases
    aurl = f"/u/{cfg.name}/models/alias"
    assert c.post(aurl, data={"alias_name": "champion", "version": serving,
                              "csrf_token": token}).status_code == 400
    r = c.post(aurl, data={"alias_name": "champion", "version": serving, "csrf_token": token,
                           "confirm": serving})
    assert r.status_code == 200 and reg.aliases() == {"champion": serving}
    assert reg.history()[-1]["action"] == "alias"
    r = c.post(aurl, data={"alias_name": "Bad Name", "version": serving, "csrf_token": token,
                           "confirm": serving})
    assert r.status_code == 400 and "Bad Name" in r.text
    r = c.post(aurl, data={"alias_name": "champion", "remove": "1", "csrf_token": token,
                           "confirm": "champion"})
    assert r.status_code == 200 and reg.aliases() == {}
    assert reg.history()[-1]["action"] == "unalias"
    r = c.post(aurl, content=b'{"alias_name": "x"}', headers={"content-type": "application/json"})
    assert r.status_code == 415


def test_a_new_run_shows_without_a_restart(tmp_path):
    """The run table is cached on the SQLite file's stamp: a run written after the page
    was read shows on the next request."""
    from tests.unit.infra.ui.ui_records import make_case, open_rw, write_runs

    path, cfg = make_case(tmp_path)
    write_runs(cfg, 1, push_every=0)
    c = _client(path)
    assert len(re.findall(r'<tr class="run"', c.get(f"/u/{cfg.name}").text)) == 1
    assert len(re.findall(r'<tr class="run"', c.get(f"/u/{cfg.name}").text)) == 1
    from ml_metadata.proto import metadata_store_pb2 as pb

    s = open_rw(cfg)
    [rid] = s.put_contexts([pb.Context(type_id=s.get_context_type("pipeline_run").id,
                                       name="2026-12-31T00:00:00.000000")])
    parent = s.get_context_by_type_and_name("pipeline", cfg.name)
    s.put_parent_contexts([pb.ParentContext(child_id=rid, parent_id=parent.id)])
    rows = re.findall(r'<tr class="run" data-run="([^"]+)"', c.get(f"/u/{cfg.name}").text)
    assert rows[0] == "2026-12-31T00:00:00.000000" and len(rows) == 2


def test_serving_page_shows_canary_decisions_and_monitoring(tmp_path):
    from tfxkit.infra.canary.decision_log import DecisionLog, decision_log_path
    from tfxkit.infra.monitoring.record import record_window
    from tests.unit.infra.ui.ui_records import make_case, open_rw, write_runs

    path, cfg = make_case(tmp_path)
    write_runs(cfg, 1, push_every=1)
    s = open_rw(cfg)
    [model] = [a for a in s.get_artifacts_by_type("Model")]
    for k, value in enumerate((0.05, 0.3)):
        result = tmp_path / f"window-{k}.json"
        result.write_text(json.dumps({"features": [
            {"feature": "island", "kind": "skew", "value": value, "threshold": 0.1,
             "flagged": value > 0.1}]}))
        flagged = [{"feature": "island", "kind": "skew", "value": value, "threshold": 0.1}] \
            if value > 0.1 else []
        record_window(s, cfg.name, model.id, {"start": 3600.0 * k, "end": 3600.0 * (k + 1),
                                              "rows": 100 + k, "flagged": flagged,
                                              "crossed": bool(flagged), "model_version": "1"},
                      str(result))
    log = DecisionLog(decision_log_path(cfg))
    log.append({"action": "start", "stable": "1", "canary": "2", "share": 0.1, "step": 1,
                "evidence": {"canary": {"requests": 50, "error_rate": 0.0}}})
    log.append({"action": "rollback", "stable": "1", "canary": "2", "share": 0.1,
                "reasons": ["error rate 0.2 > 0.05"]})
    r = _client(path).get(f"/u/{cfg.name}/serving")
    assert r.status_code == 200
    assert re.findall(r'<tr data-action="([a-z]+)"', r.text) == ["rollback", "start"]
    assert "error rate 0.2 &gt; 0.05" in r.text and '"requests": 50' in r.text  # evidence
    assert "No canary is running." in r.text
    assert r.text.count('<tr class="window">') == 2
    assert "island skew 0.3000 &gt; 0.1000" in r.text
    assert r.text.count('class="figure serving-plot"') == 2  # the canary's share, skew


def test_recorded_evaluations_are_shown_without_reading_tfma(ui_case, monkeypatch):
    """Runs record their evaluation on their pipeline_run context: the list's sparkline
    and a run's gated metrics come from there; TFMA's reader is never called."""
    from tfxkit.infra.metadata.report import evaluation

    def no_tfma(*a, **kw):
        raise AssertionError("TFMA's output was read")

    monkeypatch.setattr(evaluation, "read_evaluation", no_tfma)
    path, cfg, written = ui_case
    c = _client(path)
    home = c.get("/").text
    evaluated = [rid for rid, w in written if not w.get("failed")]
    assert home.count("<circle") == len(evaluated)  # one point per evaluated run
    rid = evaluated[0]
    run = c.get(f"/u/{cfg.name}/runs/{quote(rid)}").text
    assert "island:Dream" in run and "0.8800" in run  # run 0: 0.9 on Overall, -0.02 on Dream
    assert data.MetricCache().evaluation("/nowhere", None, recorded="not json") is None


def test_a_finished_runs_own_report_is_served_as_written(ui_case, monkeypatch):
    import importlib
    import os

    from tfxkit.infra.metadata.report import default_path

    gather_mod = importlib.import_module("tfxkit.infra.metadata.report.gather")
    path, cfg, written = ui_case
    rid, other = written[0][0], written[2][0]
    report = default_path(cfg.pipeline_root, rid)
    os.makedirs(os.path.dirname(report), exist_ok=True)
    with open(report, "w") as f:
        f.write("<html>the run's own report</html>")
    stale = default_path(cfg.pipeline_root, other)
    with open(stale, "w") as f:
        f.write("<html>written before the run ended</html>")
    os.utime(stale, (1_000_000, 1_000_000))
    gathered = []

    def gather(*a, **kw):
        gathered.append(a)
        raise RuntimeError("gathered")

    monkeypatch.setattr(gather_mod, "gather", gather)
    c = _client(path)
    r = c.get(f"/u/{cfg.name}/runs/{quote(rid)}/report")
    assert r.status_code == 200 and r.text == "<html>the run's own report</html>" and not gathered
    with pytest.raises(RuntimeError, match="gathered"):
        c.get(f"/u/{cfg.name}/runs/{quote(other)}/report")
    assert gathered
