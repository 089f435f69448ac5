"""``hub-lineage lineage``: a model's parents, grandparents ... to the roots."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub_lineage.cli.options import endpoint_option, jsonable, offline_option, predictor_option, store_option
from hub_lineage.lineage.render import FORMATS


@click.command()
@click.argument("repo_id")
@click.option("--format", "fmt", type=click.Choice([*FORMATS, "html"]), default="tree",
              show_default=True, help="tree for reading, json for scripts, mermaid for cards and READMEs, html for "
                                      "a self-contained page with the diagram and each model's scores.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the output to this file instead of printing it (e.g. lineage.html).")
@predictor_option("With --format html: the fitted predictor whose known and predicted scores the page shows "
                  "(default: the saved one, if any).")
@click.option("--edges", "edge_files", multiple=True, type=click.Path(path_type=Path),
              help="Local edge list CSV (source,target,edge); repeatable. Used offline and where the "
                   "Hub states no parent.")
@offline_option("Do not contact the Hub: use the cache and --edges only (also HF_HUB_OFFLINE=1).")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Stop after this many generations, at least 1 (default: up to the roots).")
@endpoint_option()
@store_option("Store whose lineage edges (from `hub-lineage ingest`) are used like --edges, when it exists")
def lineage(repo_id: str, fmt: str, out_path: Path | None, predictor_dir: str | None,
            edge_files: tuple[Path, ...], offline: bool, depth: int | None, endpoint: str | None,
            store_path: str | None) -> None:
    """Show REPO_ID's lineage: parents, grandparents ... to the roots, with relation labels.

    \b
    Examples:
      hub-lineage lineage Qwen/Qwen2.5-7B-Instruct
      hub-lineage lineage Xiaojian9992024/Qwen2.5-Dyanka-7B-Preview \\
          --edges ../shared/data/hf_lineage_edges_2025-06.csv --offline --format json
      hub-lineage lineage my-org/my-model --format html --out lineage.html
    """
    from hub_lineage.lineage import render
    from hub_lineage.lineage.resolve import lineage_of

    graph = lineage_of(repo_id, edge_files=edge_files, offline=offline, max_depth=depth, endpoint=endpoint,
                       local_graph=_stored_graph(store_path))
    if fmt == "json":
        text = json.dumps(jsonable(render.lineage_json(graph, repo_id)), indent=2, allow_nan=False)
    elif fmt == "mermaid":
        text = render.render_mermaid(graph, repo_id)
    elif fmt == "html":
        from hub_lineage.cli.commands.lineage_scores import node_scores
        from hub_lineage.lineage.html_page import render_html

        scores, benchmarks, note = node_scores(graph, repo_id, predictor_dir)
        text = render_html(graph, repo_id, scores, benchmarks, note)
    else:
        text = render.render_tree(graph, repo_id)
    if out_path is None:
        click.echo(text)
    else:
        from hub_lineage.files import write_atomic

        write_atomic(out_path, text if text.endswith("\n") else text + "\n")
        click.echo(f"Wrote {out_path}", err=True)


def _stored_graph(store_path: str | None):
    """The store's lineage edges (what the README's first `ingest` put there), or None without a store."""
    from hub_lineage import paths

    path = Path(store_path) if store_path else paths.default_store_path()
    if not path.is_file() or path.stat().st_size == 0:
        return None
    from hub_lineage.data.store.database import Store

    with Store(path) as store:
        return store.lineage_graph()
