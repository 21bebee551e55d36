"""The report page's building blocks (infra/metadata/report/html.py)."""
import xml.etree.ElementTree as ET

from tfxkit.infra.metadata.report import html as H


def test_numbers():
    assert H.fmt_num(None) == H.fmt_num(float("nan")) == "–"
    assert H.fmt_num(0.5) == "0.5" and H.fmt_num(2.0) == "2" and H.fmt_num(3) == "3"
    assert H.fmt_num(123456.0) == "1.235e+05" and H.fmt_num(0.0001) == "1.000e-04"
    assert H.fmt_num(40.0, 0) == "40"
    assert H.fmt_metric(None) == "–" and H.fmt_metric(0.5) == "0.5000"


def test_words():
    assert H.shorten("abc", 3) == "abc" and H.shorten("abcd", 3) == "ab…"
    assert H.state_class("not run") == "state-not-run"


def test_table_cells_rows_and_attributes():
    text = H.table_html(["a", "<b>"], [["1", ("2", "class='num'")],
                                       {"attrs": "data-x='y'", "cells": ["3", "4"]}],
                        "class='t'")
    t = ET.fromstring(text)
    assert t.get("class") == "t"
    assert [th.text for th in t.iter("th")] == ["a", "<b>"]  # headers escaped
    rows = list(t.iter("tbody"))[0].findall("tr")
    assert [[td.text for td in r] for r in rows] == [["1", "2"], ["3", "4"]]
    assert rows[0][1].get("class") == "num" and rows[1].get("data-x") == "y"


def test_figures():
    assert H.figure_html(None) == "" and H.figure_html("") == ""
    f = ET.fromstring(H.figure_html("<svg/>", "a < b", "wide"))
    assert f.get("class") == "wide" and f.find("figcaption").text == "a < b"
    assert f.find("svg") is not None
