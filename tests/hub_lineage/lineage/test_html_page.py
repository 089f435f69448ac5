"""``hub-lineage lineage --format html``: a self-contained page (no script, no external resource),
checked in a real headless browser where one is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny_predictor import tiny_predictor_dir

from hub_lineage.cli.main import cli
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.html_page import render_html

EDGES = "source,target,edge\nalpha/base,alpha/mid-unscored,finetune\nalpha/mid-unscored,alpha/ft-5,finetune\n" \
        "alpha/ft-5,org/new,finetune\nbeta/base,org/new,merge\n"
NODES = ["org/new", "alpha/ft-5", "beta/base", "alpha/mid-unscored", "alpha/base"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The page the CLI writes for org/new (a hypothetical merge) with the tiny predictor's scores."""
    root = tmp_path_factory.mktemp("html")
    predictor = tiny_predictor_dir(root / "predictor")
    (root / "edges.csv").write_text(EDGES)
    out = root / "lineage.html"
    result = CliRunner().invoke(cli, ["lineage", "org/new", "--edges", str(root / "edges.csv"), "--offline",
                                      "--format", "html", "--predictor", str(predictor), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_page_is_self_contained_with_diagram_scores_and_mermaid_source(page):
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower()  # nothing to run, nothing fetched
    assert not re.search(r'(?:src|href)="(?!https://huggingface\.co/)', text)  # only links to the models
    svg = ET.fromstring(text[text.index("<svg"): text.index("</svg>") + 6])
    groups = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if "node" in g.get("class", "")]
    assert sorted(g.get("data-model") for g in groups) == sorted(NODES)
    kinds = {g.get("data-model"): g.get("class").split()[1] for g in groups}
    assert kinds == {"org/new": "predicted", "alpha/ft-5": "known", "beta/base": "known",
                     "alpha/mid-unscored": "predicted", "alpha/base": "known"}
    rows = re.findall(r'<tr class="(\w+)"><td><a[^>]*>([^<]*)</a></td><td>[^<]*</td>((?:<td>[^<]*</td>){6})', text)
    assert [r[1] for r in rows] == NODES
    new_bbh = re.findall(r"<td>([^<]*)</td>", rows[0][2])[1]
    assert re.fullmatch(r"0\.\d{3} \(0\.\d{3}-0\.\d{3}\)", new_bbh)  # predicted, with its interval
    assert '<pre class="mermaid">flowchart BT' in text and "merge" in text


def test_page_without_a_predictor_still_draws_the_graph():
    graph = LineageGraph([Edge("c/child", "p/parent", Relation.FINETUNE)])
    text = render_html(graph, "c/child", note="No fitted predictor")
    assert "No fitted predictor" in text and text.count('class="node none"') == 2


def _browsers() -> list[tuple[str, str]]:
    found = [(kind, path) for kind, names in (("chromium", ("chromium", "chromium-browser", "google-chrome",
                                                           "google-chrome-stable", "chrome")),
                                              ("firefox", ("firefox",)))
             for path in [next((p for p in map(shutil.which, names) if p), None)] if path]
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            if Path(p.chromium.executable_path).exists():
                found.append(("playwright", p.chromium.executable_path))
    except Exception:  # not installed, or its browsers are not
        pass
    return found


@pytest.mark.skipif(not _browsers(), reason="no headless browser installed (chromium, firefox or playwright)")
def test_page_renders_in_a_real_headless_browser(page, tmp_path):
    from PIL import Image

    kind, path = _browsers()[0]
    url = page.resolve().as_uri()
    shot = tmp_path / "shot.png"
    if kind == "playwright":
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch()
            tab = browser.new_page()
            tab.goto(url)
            assert tab.locator("svg g.node").count() == len(NODES)
            box = tab.locator("svg").bounding_box()
            assert box and box["width"] > 300 and box["height"] > 200
            assert "alpha/mid-unscored" in tab.inner_text("table")
            tab.screenshot(path=str(shot))
            browser.close()
    elif kind == "chromium":
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        dom = subprocess.run([path, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        assert dom.count('class="node ') == len(NODES) and "predicted from lineage" in dom
        subprocess.run([path, *flags, f"--screenshot={shot}", "--window-size=1400,900", url],
                       capture_output=True, timeout=120)
    else:
        subprocess.run([path, "--headless", "--screenshot", str(shot), "--window-size=1400,900", url],
                       capture_output=True, timeout=120)
    with Image.open(shot) as image:  # something was drawn: not one flat colour
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 20


def test_every_parent_is_drawn_above_its_children():
    from hub_lineage.lineage.html_page import _layout

    # a merge of a model with its own parent: the parent must still get a row of its own
    graph = LineageGraph([Edge("m/merge", "a/ft", Relation.MERGE, 0.5), Edge("m/merge", "a/base", Relation.MERGE, 0.5),
                          Edge("a/ft", "a/base", Relation.FINETUNE)])
    pos = _layout(graph, "m/merge")
    assert pos["a/base"][1] < pos["a/ft"][1] < pos["m/merge"][1]
    boxes = sorted(pos.values())
    assert len(set(boxes)) == len(boxes)  # no two boxes on the same spot
