"""A model's lineage, from the Hub and local edge lists.

``hub-lineage lineage`` is a few lines over :func:`lineage_of` and the renderers of
:mod:`hub_lineage.lineage.render` (tree, JSON, Mermaid).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hub_lineage.errors import DataFormatError
from hub_lineage.lineage.graph import LineageGraph


def load_local_graph(paths: Iterable[str | Path]) -> LineageGraph:
    """One LineageGraph from edge lists (``source,target,edge`` or ``child,parent,relation``)
    and leaderboard contents tables (weak family-root edges)."""
    from hub_lineage.data.sources import detect, edges, leaderboard

    graph = LineageGraph()
    for path in paths:
        kind = detect.detect_format(path)
        with warnings.catch_warnings():
            # Self-loops and cycles in a crawl are expected; one summary per file is enough.
            warnings.simplefilter("default")
            if kind == "edges":
                graph.update(edges.load_edge_list(path))
            elif kind == "contents":
                graph.update(leaderboard.contents_graph(leaderboard.read_contents(path)))
            else:
                raise DataFormatError(
                    f"{str(path)!r} is a {kind} file, not an edge list: --edges needs a CSV with columns "
                    "source,target,edge (parent, child, relation) or child,parent,relation.")
    return graph


def lineage_of(
    repo_id: str,
    *,
    edge_files: Iterable[str | Path] = (),
    offline: bool | None = None,
    max_depth: int | None = None,
    endpoint: str | None = None,
    client: Any = None,
    local_graph: LineageGraph | None = None,
) -> LineageGraph:
    """``repo_id`` and its ancestors (to the roots, or ``max_depth`` hops).

    Parameters
    ----------
    edge_files : local edge lists used offline and where the Hub states no parent.
    offline : never contact the Hub (default: ``HF_HUB_OFFLINE``).
    endpoint : the Hub's URL (default: ``HF_ENDPOINT`` or https://huggingface.co).
    local_graph : edges known locally (the store's), used like ``edge_files``.
    client : a ready :class:`~hub_lineage.lineage.hub.HubClient` (then ``edge_files``, ``offline`` and
        ``endpoint`` are ignored).
    """
    from hub_lineage.lineage.hub import HubClient

    if client is None:
        local = load_local_graph(edge_files) if edge_files else None
        if local_graph is not None:
            if local is None:
                local = local_graph
            else:
                local.update(local_graph)
        api = None
        if endpoint:
            from huggingface_hub import HfApi

            api = HfApi(endpoint=endpoint.rstrip("/"))
        client = HubClient(api, offline=offline, local_graph=local)
    return client.resolve(repo_id, max_depth=max_depth)
