"""The one graph renderer (infra/metadata/graph_svg.py): columns by longest path, loose
nodes after, boxes, arrows, labels, and an SVG that parses."""
import xml.etree.ElementTree as ET

from tfxkit.infra.metadata import graph_svg as g

SVG = "{http://www.w3.org/2000/svg}"


def _svg(text):
    root = ET.fromstring(text)
    assert root.tag == SVG + "svg"
    return root


def test_levels_are_the_longest_path_and_loose_nodes_follow_in_order():
    edges = [g.Edge("a", "b", "x"), g.Edge("b", "c", "y"), g.Edge("a", "c", "z")]
    assert g.levels(["a", "b", "c", "lone1", "lone2"], edges) == \
        {"a": 0, "b": 1, "c": 2, "lone1": 3, "lone2": 4}
    assert g.levels(["p", "q"], []) == {"p": 0, "q": 1}


def test_boxes_arrows_and_tooltips():
    nodes = [g.Node("ExampleGen", ["ExampleGen", "ran"], fill="#dcfce7"),
             g.Node("Trainer", ["Trainer", "not run"], dashed=True, title="never reached")]
    root = _svg(g.render(nodes, [g.Edge("ExampleGen", "Trainer", "examples"),
                                 g.Edge("ExampleGen", "Missing", "x"),      # unknown: left out
                                 g.Edge("Trainer", "Trainer", "self")]))    # a loop: left out
    boxes = {b.get("data-node"): b for b in root.iter(SVG + "g")}
    assert list(boxes) == ["ExampleGen", "Trainer"]
    assert boxes["ExampleGen"].find(SVG + "rect").get("fill") == "#dcfce7"
    assert boxes["Trainer"].find(SVG + "rect").get("stroke-dasharray")
    assert boxes["Trainer"].find(SVG + "title").text == "never reached"
    assert [t.text for t in boxes["Trainer"].iter(SVG + "text")] == ["Trainer", "not run"]
    arrows = [p for p in root.iter(SVG + "path") if p.get("marker-end")]
    assert [a.find(SVG + "title").text for a in arrows] == ["examples"]
    # left to right: the Trainer's box is in the next column
    x = {n: float(b.find(SVG + "rect").get("x")) for n, b in boxes.items()}
    assert x["Trainer"] > x["ExampleGen"]


def test_header_edge_labels_tall_boxes_and_cut_lines():
    style = g.Style(box_w=120, char_w=6.0, pad_x=10, pad_y=10, line_h=15, min_lines=1,
                    edge_labels=True)
    long = "x" * 40
    nodes = [g.Node("a", ["a", "1", "2", "3"]), g.Node("b", ["b", long])]
    root = _svg(g.render(nodes, [g.Edge("a", "b", "model")], style,
                         header=[("title", True), ("second line", False)]))
    texts = [t.text for t in root.iter(SVG + "text")]
    assert texts[:2] == ["title", "second line"]
    assert "model" in texts  # the key beside the arrow
    cut = next(t for t in texts if t and t.startswith("xxx"))
    assert cut.endswith("…") and len(cut) == int((120 - 20) / 6.0)
    heights = {b.get("data-node"): float(b.find(SVG + "rect").get("height"))
               for b in root.iter(SVG + "g")}
    assert heights == {"a": 2 * 10 + 4 * 15, "b": 2 * 10 + 2 * 15}
    header_bottom = max(float(t.get("y")) for t in root.iter(SVG + "text")
                        if t.text in ("title", "second line"))
    assert all(float(b.find(SVG + "rect").get("y")) > header_bottom
               for b in root.iter(SVG + "g"))


def test_an_empty_graph_is_still_an_svg():
    root = _svg(g.render([], []))
    assert not list(root.iter(SVG + "g"))
