"""``hub-lineage lineage --format html``: one self-contained page, readable in any browser, offline.

Decision (issue 14): mermaid.js (about 3 MB) is *not* bundled and never loaded from a CDN, so the
page needs no network and no script. It draws the same graph itself as inline SVG (roots at the
top, one row per generation, edges labelled with their relation), lists every node's known or
predicted scores in a table, and carries the Mermaid source (what ``--format mermaid`` prints) in
a ``<pre class="mermaid">`` block: pasted into a Hub or GitHub Markdown file it renders there,
and a page that does load mermaid.js would render it in place.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.render import _label, _ordered_edges, lineage_json, render_mermaid

#: per node: {"kind": "known" | "predicted", "scores": {benchmark: accuracy}, optional "low"/"high"}
NodeScores = Mapping[str, Mapping[str, Any]]

BOX_W, BOX_H, GAP_X, GAP_Y = 230, 46, 30, 70


def _layout(graph: LineageGraph, model: str) -> dict[str, tuple[int, int]]:
    """Node -> (x, y) of its box: generation rows (the roots on top, ``model`` at the bottom)."""
    data = lineage_json(graph, model)
    depth = _generations(graph, model, data["nodes"])
    deepest = max(depth.values())
    rows: dict[int, list[str]] = {}
    for node in data["nodes"]:
        rows.setdefault(depth[node], []).append(node)
    widest = max(len(r) for r in rows.values())
    width = widest * (BOX_W + GAP_X)
    out = {}
    for d, nodes in rows.items():
        offset = (width - len(nodes) * (BOX_W + GAP_X)) // 2
        for i, node in enumerate(nodes):
            out[node] = (offset + i * (BOX_W + GAP_X) + GAP_X // 2, (deepest - d) * (BOX_H + GAP_Y) + 10)
    return out


def _generations(graph: LineageGraph, model: str, nodes: list[str]) -> dict[str, int]:
    """Longest path from ``model`` to each ancestor, so every parent sits strictly above its children
    (a merge of a model and its own parent would otherwise put both in one row)."""
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # relax until stable: at most len(nodes) rounds in a DAG
        changed = False
        for node in nodes:
            for edge in graph.parents(node):
                if edge.parent in depth and depth[edge.parent] < depth[node] + 1:
                    depth[edge.parent] = depth[node] + 1
                    changed = True
        if not changed:
            break
    return depth


def _short(text: str, n: int = 34) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_svg(graph: LineageGraph, model: str, scores: NodeScores | None = None) -> str:
    """The lineage as an inline ``<svg>`` (no script): boxes per node, arrows child -> parent."""
    pos = _layout(graph, model)
    width = max(x for x, _ in pos.values()) + BOX_W + GAP_X
    height = max(y for _, y in pos.values()) + BOX_H + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="lineage of {html.escape(model)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for edge in _ordered_edges(graph, model):
        (cx, cy), (px, py) = pos[edge.child], pos[edge.parent]
        x1, y1, x2, y2 = cx + BOX_W // 2, cy, px + BOX_W // 2, py + BOX_H
        dash = ' stroke-dasharray="5,4"' if edge.root else ""
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555"{dash} marker-end="url(#arrow)"/>')
        parts.append(f'<text class="edge" x="{(x1 + x2) // 2 + 4}" y="{(y1 + y2) // 2}">{html.escape(_label(edge))}</text>')
    for node, (x, y) in pos.items():
        info = (scores or {}).get(node) or {}
        kind = info.get("kind", "none")
        values = list((info.get("scores") or {}).values())
        mean = f"mean {sum(values) / len(values):.3f} ({kind})" if values else "no scores"
        stroke = ' stroke-width="3"' if node == model else ""
        parts.append(f'<g class="node {kind}" data-model="{html.escape(node)}"><title>{html.escape(node)}</title>'
                     f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"{stroke}/>'
                     f'<text x="{x + 8}" y="{y + 19}">{html.escape(_short(node))}</text>'
                     f'<text class="score" x="{x + 8}" y="{y + 37}">{html.escape(mean)}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)


def _table(graph: LineageGraph, model: str, scores: NodeScores | None, benchmarks: list[str]) -> str:
    head = "".join(f"<th>{html.escape(b)}</th>" for b in benchmarks)
    rows = []
    for node in lineage_json(graph, model)["nodes"]:
        info = (scores or {}).get(node) or {}
        kind = info.get("kind", "none")
        cells = []
        for b in benchmarks:
            value = (info.get("scores") or {}).get(b)
            low, high = (info.get("low") or {}).get(b), (info.get("high") or {}).get(b)
            text = "-" if value is None else f"{value:.3f}" + (f" ({low:.3f}-{high:.3f})" if low is not None else "")
            cells.append(f"<td>{text}</td>")
        what = {"known": "known (measured)", "predicted": "predicted from lineage"}.get(kind, "no scores")
        rows.append(f'<tr class="{kind}"><td><a href="https://huggingface.co/{html.escape(node)}">'
                    f"{html.escape(node)}</a></td><td>{what}</td>{''.join(cells)}</tr>")
    return (f"<table><thead><tr><th>model</th><th>scores</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
svg{max-width:100%;height:auto;border:1px solid #ddd;background:#fafafa}
svg rect{fill:#fff;stroke:#333}.node.known rect{fill:#e6f4ea}.node.predicted rect{fill:#fff4e0}
svg text{font-size:12px}svg text.score{fill:#555;font-size:11px}svg text.edge{fill:#777;font-size:10px}
table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
tr.predicted td:nth-child(n+2){font-style:italic}pre{background:#f4f4f4;padding:.8em;overflow:auto}"""


def render_html(graph: LineageGraph, model: str, scores: NodeScores | None = None,
                benchmarks: list[str] | None = None, note: str = "") -> str:
    """The whole page (UTF-8 HTML, no external resource, no script)."""
    benchmarks = benchmarks or sorted({b for v in (scores or {}).values() for b in (v.get("scores") or {})})
    mermaid = render_mermaid(graph, model).removeprefix("```mermaid\n").removesuffix("\n```")
    title = f"Lineage of {model}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>Arrows point from a model to the model it was made from. Green: scores measured (known); "
        "orange: scores <strong>predicted</strong> from the lineage by hub-lineage, not evaluated.</p>",
        f"<p>{html.escape(note)}</p>" if note else "",
        render_svg(graph, model, scores),
        "<h2>Scores</h2>", _table(graph, model, scores, benchmarks),
        "<h2>Mermaid source</h2>",
        "<p>The same diagram for a Hub or GitHub Markdown file (this page loads no script).</p>",
        f'<pre class="mermaid">{html.escape(mermaid)}</pre>',
        "</body></html>", ""])
