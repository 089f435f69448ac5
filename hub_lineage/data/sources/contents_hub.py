"""The first-run pull: the Open LLM Leaderboard's model table and its models' lineage, from the Hub.

``open-llm-leaderboard/contents`` publishes the same table as the local contents CSV, as parquet
files. They are downloaded into a temporary directory and ingested like any local contents file;
then each scored model's ancestors are resolved through :class:`~hub_lineage.lineage.hub.HubClient`
(cached on disk, so a second pull is cheap) and the edges stored. The lineage's models without a
leaderboard score then give their own reported results (model-index, ``.eval_results/``; see
:mod:`hub_lineage.data.sources.reported_hub`), so relatives that never were on the leaderboard
count too. The downloads use the client's
``HfApi`` and retry policy, and Hub errors become ours through
:func:`~hub_lineage.lineage.hub_errors.hub_call`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hub_lineage.data.store.ingest import ingest_paths
from hub_lineage.errors import RepoNotFoundError
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.hub_errors import hub_call

if TYPE_CHECKING:
    from hub_lineage.data.store.database import Store
    from hub_lineage.lineage.hub import HubClient

T = TypeVar("T")

#: The Hub dataset the Open LLM Leaderboard publishes its model table in.
CONTENTS_DATASET = "open-llm-leaderboard/contents"


def pull_leaderboard(
    store: Store,
    hub: HubClient | None = None,
    *,
    progress: Callable[[list[str]], Iterable[str]] | None = None,
) -> int:
    """Ingest the leaderboard table and its models' lineage into ``store``; return edges added.

    ``progress`` wraps the list of models whose lineage is resolved; by default a
    ``huggingface_hub`` progress bar (hidden by ``HF_HUB_DISABLE_PROGRESS_BARS``).
    """
    from huggingface_hub.utils import tqdm

    from hub_lineage.lineage.hub import HubClient

    client = hub if hub is not None else HubClient()
    api = client.api

    def call(what: str, request: Callable[[], T]) -> T:
        return hub_call(request, repo_id=CONTENTS_DATASET, what=what, endpoint=client.endpoint,
                        repo_type="dataset", retry=client.retry)

    names = call("the file list", lambda: api.list_repo_files(CONTENTS_DATASET, repo_type="dataset"))
    files = [f for f in names if f.endswith(".parquet")]
    if not files:
        raise RepoNotFoundError(f"The Hub dataset {CONTENTS_DATASET!r} holds no parquet file to ingest.")
    with tempfile.TemporaryDirectory() as tmp:
        local = [Path(call(f, lambda f=f: api.hf_hub_download(CONTENTS_DATASET, f, repo_type="dataset",
                                                              local_dir=tmp)))
                 for f in files]
        ingest_paths(store, local)
    graph = LineageGraph()
    models = store.models()
    if progress is None:
        progress = lambda items: tqdm(items, desc="Resolving lineage", unit="model")  # noqa: E731
    for model in progress(models):
        graph.update(client.resolve(model))
    added = store.add_edges(graph.edges)
    from hub_lineage.data.sources.reported_hub import ingest_reported

    unscored = sorted(set(graph.nodes) - set(models))
    ingest_reported(store, client, unscored, relatives=False, skip_scored=True, must_read=False,
                    progress=lambda items: tqdm(items, desc="Reading reported results", unit="model"))
    return added
