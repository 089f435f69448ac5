"""``hub-lineage lineage``: a model's parents, grandparents ... to the roots."""

from __future__ import annotations

from pathlib import Path

import click

from hub_lineage.cli.options import echo_json, endpoint_option, offline_option, store_option
from hub_lineage.lineage.render import FORMATS


@click.command()
@click.argument("repo_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="tree",
              show_default=True, help="tree for reading, json for scripts, mermaid for cards and READMEs.")
@click.option("--edges", "edge_files", multiple=True, type=click.Path(path_type=Path),
              help="Local edge list CSV (source,target,edge); repeatable. Used offline and where the "
                   "Hub states no parent.")
@offline_option("Do not contact the Hub: use the cache and --edges only (also HF_HUB_OFFLINE=1).")
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="Stop after this many generations (default: up to the roots).")
@endpoint_option()
@store_option("Store whose lineage edges (from `hub-lineage ingest`) are used like --edges, when it exists")
def lineage(repo_id: str, fmt: str, edge_files: tuple[Path, ...], offline: bool,
            depth: int | None, endpoint: str | None, store_path: str | None) -> None:
    """Show REPO_ID's lineage: parents, grandparents ... to the roots, with relation labels.

    \b
    Examples:
      hub-lineage lineage Qwen/Qwen2.5-7B-Instruct
      hub-lineage lineage Xiaojian9992024/Qwen2.5-Dyanka-7B-Preview \\
          --edges ../shared/data/hf_lineage_edges_2025-06.csv --offline --format json
    """
    from hub_lineage.lineage import render
    from hub_lineage.lineage.resolve import lineage_of

    graph = lineage_of(repo_id, edge_files=edge_files, offline=offline, max_depth=depth, endpoint=endpoint,
                       local_graph=_stored_graph(store_path))
    if fmt == "json":
        echo_json(render.lineage_json(graph, repo_id), indent=2)
    elif fmt == "mermaid":
        click.echo(render.render_mermaid(graph, repo_id))
    else:
        click.echo(render.render_tree(graph, repo_id))


def _stored_graph(store_path: str | None):
    """The store's lineage edges (what the README's first `ingest` put there), or None without a store."""
    from hub_lineage import paths

    path = Path(store_path) if store_path else paths.default_store_path()
    if not path.is_file() or path.stat().st_size == 0:
        return None
    from hub_lineage.data.store.database import Store

    with Store(path) as store:
        return store.lineage_graph()
