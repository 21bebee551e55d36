"""``tfxkit ui`` in a real browser: headless Debian Chromium driven by Selenium through
Debian's chromedriver (nothing downloaded), over the real ``tfxkit ui`` process on a free
port, over a use case with two real training runs (the shared ``trained_multiclass`` run,
copied, then a second run with another ``model.learning_rate``: both pushed).

Each test asserts the DOM against ML Metadata and registry.json and saves a screenshot
under its tmp_path (the path is printed)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tfxkit.pipelines.mlmd_reader import Reader
from tests.e2e.helpers import BIN, runs, store, tfxkit

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
SECOND_LR = "0.03"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UI:
    """A ``tfxkit ui`` process on a free port; ``url(path)``; stopped by ``stop()``."""

    def __init__(self, config, *args, env=None):
        self.port = _free_port()
        self.log = Path(config).parent / f"ui-{self.port}.log"
        self.proc = subprocess.Popen(
            [str(BIN), "ui", str(config), "--port", str(self.port), *args],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.url("/static/ui.css"), timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("tfxkit ui did not start: " + self.log.read_text()[-3000:])
            time.sleep(0.3)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def two_runs(trained_multiclass, tmp_path_factory):
    """A copy of the trained template, trained a second time with another learning rate
    (read-only for the tests: the rollback test copies it again). The second run is gated
    on the absolute bound only: a change against the first model on a 14-example slice
    (Torgersen) would otherwise decide whether a second version exists."""
    case = tmp_path_factory.mktemp("ui") / "multiclass"
    shutil.copytree(trained_multiclass.case, case)
    r = tfxkit("run", case / "config.yaml", "--profile", "quick", "--set",
               f"model.learning_rate={SECOND_LR}", "--set",
               "eval.metrics=[{name: accuracy, lower_bound: 0.8}]")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Pushed version" in r.stdout, r.stdout[-3000:]
    return case


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMEDRIVER).is_file() and Path(CHROMIUM).is_file(), \
        "Debian chromium and chromium-driver are missing: make browser-setup"
    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--disable-extensions", "--no-first-run"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(180)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def ui(two_runs):
    server = UI(two_runs / "config.yaml")
    yield server
    server.stop()


def _shot(driver, tmp_path, name):
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, "an empty screenshot"
    print(f"screenshot: {path}")
    return path


def _follow(browser, element):
    """Clicks a link or submit button and waits for the next page (a click returns before
    the browser has left the old one)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 120).until(EC.staleness_of(old))
    WebDriverWait(browser, 120).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def _registry(case):
    return json.loads((case / "models" / "registry.json").read_text())


def _mlmd(case, name="penguin-species"):
    s = store(case / ".tfxkit" / "metadata.sqlite")
    return s, runs(s, name)


def test_use_case_list_and_a_run(browser, ui, two_runs, tmp_path):
    from selenium.webdriver.common.by import By

    s, run_ctxs = _mlmd(two_runs)
    reg = _registry(two_runs)
    browser.get(ui.url("/"))
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-use-case="penguin-species"]')
    assert row.find_element(By.CSS_SELECTOR, ".runs-count").text == str(len(run_ctxs)) == "2"
    assert f"version {reg['serving']}" in row.find_element(By.CSS_SELECTOR, ".serving").text
    assert row.find_element(By.CSS_SELECTOR, ".last-run .state").text == "succeeded"
    assert row.find_elements(By.CSS_SELECTOR, "svg.spark circle"), "no sparkline points"
    _shot(browser, tmp_path, "use-cases")
    _follow(browser, row.find_element(By.CSS_SELECTOR, "a.uc-link"))
    shown = [tr.get_attribute("data-run") for tr in
             browser.find_elements(By.CSS_SELECTOR, "#runs tr.run")]
    assert shown == [c.name for c in reversed(run_ctxs)]
    latest = run_ctxs[-1].name
    _follow(browser, browser.find_element(By.CSS_SELECTOR,
                                          f'tr[data-run="{latest}"] a.run-link'))
    assert browser.find_element(By.ID, "run-id").text == latest
    assert browser.find_element(By.ID, "run-state").text == "succeeded"
    # the pushed version as MLMD's PushedModel records it for this run, = registry serving
    pushed = [a for a in s.get_artifacts_by_type("PushedModel")
              if a.custom_properties["pushed"].int_value]
    assert browser.find_element(By.ID, "run-pushed").text == \
        pushed[-1].custom_properties["pushed_version"].string_value == reg["serving"]
    trainer = browser.find_element(By.CSS_SELECTOR, 'tr[data-component="Trainer"]')
    assert "ran" in trainer.text
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline svg g.bar")
    # the run recorded its evaluation on its context when it ended (what the page shows,
    # no TFMA import in the dashboard): the same values TFMA's output holds
    from tfxkit.infra.metadata.report.evaluation import evaluation_from_json, read_evaluation

    for c in run_ctxs:
        ev = evaluation_from_json(c.custom_properties["evaluation_json"].string_value)
        tfma_ev = read_evaluation(ev.evaluation_uri, {}, ev.blessed)
        got = ev.metric("sparse_categorical_accuracy")
        assert got.gated and got.value == \
            tfma_ev.metric("sparse_categorical_accuracy").value, (c.name, got)
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#run-metrics td")]
    assert "Overall" in cells and f"{got.value:.4f}" in cells, cells
    _shot(browser, tmp_path, "run")
    # the run report (tfxkit report's page), embedded: its header names this run
    frame = browser.find_element(By.ID, "report")
    browser.execute_script("arguments[0].scrollIntoView()", frame)  # loading="lazy"
    browser.switch_to.frame(frame)
    try:
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 120).until(
            EC.text_to_be_present_in_element((By.TAG_NAME, "header"), latest))
        assert "run report" in browser.find_element(By.TAG_NAME, "h1").text
    finally:
        browser.switch_to.default_content()


def test_compare_two_runs(browser, ui, two_runs, tmp_path):
    from selenium.webdriver.common.by import By

    _, run_ctxs = _mlmd(two_runs)
    reg = _registry(two_runs)
    browser.get(ui.url("/u/penguin-species"))
    for c in run_ctxs:
        browser.find_element(By.CSS_SELECTOR, f'input[name="run"][value="{c.name}"]').click()
    _follow(browser, browser.find_element(By.ID, "compare-button"))
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="model.learning_rate"]')
    values = [td.text for td in row.find_elements(By.CSS_SELECTOR, "td.cfg-value")]
    assert values == ["0.01", SECOND_LR]
    # both runs' accuracy on the whole eval split, as the registry recorded it at push
    acc = browser.find_element(
        By.CSS_SELECTOR, 'tr[data-metric="sparse_categorical_accuracy"][data-slice="Overall"]')
    shown = [float(td.text) for td in acc.find_elements(By.CSS_SELECTOR, "td.metric-value")]
    by_run = {v["pipeline_run"]: v["metrics"] for v in reg["versions"].values()}
    expected = [by_run[c.name]["sparse_categorical_accuracy"] for c in run_ctxs]
    assert shown == pytest.approx(expected, abs=1e-4)
    assert browser.find_elements(By.CSS_SELECTOR, ".metric-plot svg")
    assert browser.find_elements(By.CSS_SELECTOR, ".curve svg"), "no training curves"
    # the artifacts both runs output (cache hits), from MLMD's events; resolvers left out
    s, _ = _mlmd(two_runs)
    r = Reader(s, "penguin-species")
    outs = []
    for c in run_ctxs:
        ids = set()
        for node, e in r.run_executions(c):
            if "Resolver" not in node and "resolver" not in r.execution_type(e).lower():
                ids |= {a for v in r.io(e.id)[1].values() for a in v}
        outs.append(ids)
    expected_shared = outs[0] & outs[1]
    if expected_shared:
        shown_ids = {int(td.text.lstrip("#")) for td in
                     browser.find_elements(By.CSS_SELECTOR, "#shared td:first-child")}
        assert shown_ids == expected_shared
    else:  # the copy's data path differs from the original's: ExampleGen ran again
        assert browser.find_elements(By.ID, "shared-none")
    _shot(browser, tmp_path, "compare")


def test_lineage_from_the_serving_model_to_its_data(browser, ui, two_runs, tmp_path):
    from selenium.webdriver.common.by import By

    s, _ = _mlmd(two_runs)
    reg = _registry(two_runs)
    browser.get(ui.url("/"))
    _follow(browser, browser.find_element(
        By.CSS_SELECTOR, 'tr[data-use-case="penguin-species"] .serving a'))
    _follow(browser, browser.find_element(By.CSS_SELECTOR,
                                          f'tr[data-version="{reg["serving"]}"] td a'))
    assert browser.find_element(By.ID, "lineage-version").text == reg["serving"]
    # the data file node: the file ExampleGen read, as MLMD records it
    examples = s.get_artifacts_by_type("Examples")
    files = {f for a in examples if "input_files" in a.custom_properties
             for f in json.loads(a.custom_properties["input_files"].string_value or "[]")}
    nodes = browser.find_elements(By.CSS_SELECTOR, 'g[data-node^="f"]')
    assert len(nodes) == 1, [n.get_attribute("data-node") for n in nodes]
    nodes[0].click()
    uri = browser.find_element(By.ID, "props-uri").get_attribute("data-uri")
    assert uri == str(two_runs.parent / "multiclass" / "data" / "penguins.csv") or \
        Path(uri).name == "penguins.csv", uri
    assert any(Path(uri).name == Path(f).name for f in files), (uri, files)
    # a click on the PushedModel shows its version
    pushed = browser.find_elements(By.CSS_SELECTOR, "g[data-node]")
    for g in pushed:
        if "PushedModel" in g.text:
            g.click()
            break
    props = browser.find_element(By.ID, "props-table").text
    assert f"pushed_version {reg['serving']}" in props
    _shot(browser, tmp_path, "lineage")


def test_rollback_in_the_page(browser, two_runs, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    case = tmp_path / "multiclass"
    shutil.copytree(two_runs, case)
    before = _registry(case)
    versions = sorted(before["versions"], key=int)
    assert len(versions) == 2 and before["serving"] == versions[-1]
    older = versions[0]
    server = UI(case / "config.yaml", "--allow-writes")
    try:
        browser.get(server.url("/u/penguin-species/models"))
        assert browser.find_element(By.ID, "serving-version").text == versions[-1]
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-version="{older}"]')
        row.find_element(By.CSS_SELECTOR, "input[name=reason]").send_keys("browser test")
        row.find_element(By.CSS_SELECTOR, ".rollback-button").click()
        alert = WebDriverWait(browser, 10).until(EC.alert_is_present())
        assert f"Serve version {older}" in alert.text
        alert.accept()
        WebDriverWait(browser, 30).until(
            EC.text_to_be_present_in_element((By.ID, "serving-version"), older))
        assert browser.find_element(By.ID, "done").text == f"Done: serving {older}"
        after = _registry(case)
        assert after["serving"] == older
        last = after["history"][-1]
        assert (last["action"], last["version"], last["previous"], last["reason"]) == \
            ("rollback", older, versions[-1], "browser test")
        first = browser.find_element(By.CSS_SELECTOR, "#history tr.event")
        assert first.get_attribute("data-action") == "rollback"
        _shot(browser, tmp_path, "rollback")
        # a dismissed dialog changes nothing
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-version="{versions[-1]}"]')
        row.find_element(By.CSS_SELECTOR, ".rollback-button").click()
        WebDriverWait(browser, 10).until(EC.alert_is_present()).dismiss()
        time.sleep(1)
        assert _registry(case)["serving"] == older
        # an alias, set from the page: registry.json's aliases and history, as the CLI's
        from selenium.webdriver.support.ui import Select

        form = browser.find_element(By.ID, "alias-form")
        form.find_element(By.NAME, "alias_name").send_keys("champion")
        Select(form.find_element(By.NAME, "version")).select_by_visible_text(versions[-1])
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, 10).until(EC.alert_is_present()).accept()
        WebDriverWait(browser, 30).until(
            EC.text_to_be_present_in_element((By.ID, "done"), "champion"))
        reg = _registry(case)
        assert reg["aliases"] == {"champion": versions[-1]} and reg["serving"] == older
        assert (reg["history"][-1]["action"], reg["history"][-1]["alias"],
                reg["history"][-1]["version"]) == ("alias", "champion", versions[-1])
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-version="{versions[-1]}"]')
        assert "champion" in [a.text for a in row.find_elements(By.CSS_SELECTOR, ".alias")]
        _shot(browser, tmp_path, "alias")
    finally:
        server.stop()
    print(server.log.read_text()[-2000:], file=sys.stderr)
