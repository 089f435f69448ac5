"""``hub-lineage fit``: train the predictor from the store; and the first-run pull from the Hub."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hub_lineage.hub import HubClient
    from hub_lineage.store import Store

#: The Hub dataset the Open LLM Leaderboard publishes its model table in.
CONTENTS_DATASET = "open-llm-leaderboard/contents"


def pull_leaderboard(store: Store, hub: HubClient | None = None) -> None:
    """Ingest ``open-llm-leaderboard/contents`` and the lineage of its models from the Hub.

    The table's parquet files are downloaded into a temporary directory and ingested as any local
    contents file; then each model's ancestors are resolved (cached by :class:`HubClient`) and
    their edges stored, with a progress bar.
    """
    from hub_lineage.graph import LineageGraph
    from hub_lineage.hub import HubClient

    client = hub if hub is not None else HubClient()
    api = client.api
    files = [f for f in api.list_repo_files(CONTENTS_DATASET, repo_type="dataset") if f.endswith(".parquet")]
    with tempfile.TemporaryDirectory() as tmp:
        local = [Path(api.hf_hub_download(CONTENTS_DATASET, f, repo_type="dataset", local_dir=tmp)) for f in files]
        store.ingest_paths(local)
    graph = LineageGraph()
    models = store.models()
    with click.progressbar(models, label="Resolving lineage", file=sys.stderr) as bar:
        for model in bar:
            graph.update(client.resolve(model))
    store.add_edges(graph.edges)


@click.command("fit")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None,
              help="Store to fit from (default: $HUB_LINEAGE_HOME/store.sqlite).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to save the predictor (default: $HUB_LINEAGE_HOME/predictor).")
@click.option("--coverage", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Nominal coverage of the prediction intervals.")
@click.option("--lambda-lineage", "lambda_lineage", type=float, default=None,
              help="Lineage regularisation strength (default: chosen by cross-validation on the store's models).")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (factors and folds).")
def fit(store_path: str | None, out_dir: str | None, coverage: float, lambda_lineage: float | None, seed: int) -> None:
    """Train the predictor (LRMF) on the store's scores and lineage, with calibrated intervals.

    Unscored intermediate models in the lineage stay in the graph, so relatives several hops
    apart still inform each other. Every predicting command then uses the saved predictor.

    \b
    Example:
      hub-lineage ingest ../shared/data/open_llm_leaderboard_contents_2025-02-08.csv \\
          ../shared/data/hf_lineage_edges_2025-06.csv
      hub-lineage fit
    """
    from hub_lineage.predict import Predictor
    from hub_lineage.store import Store

    params = {} if lambda_lineage is None else {"lambda_lineage": lambda_lineage}
    predictor = Predictor.fit(Store(store_path), coverage=coverage, seed=seed,
                              progress=lambda msg: click.echo(f"  {msg}", err=True), **params)
    path = predictor.save(out_dir)
    meta = predictor.meta
    click.echo(f"Fitted predictor {predictor.version} on {meta['n_models']} scored models and "
               f"{meta['n_nodes']} lineage nodes ({meta['n_edges']} edges); saved to {path}")
    widths = ", ".join(f"{b} ±{q:.3f}" if q is not None else f"{b} ±inf"
                       for b, q in zip(predictor.benchmarks, meta["intervals"]["quantiles"]))
    click.echo(f"{round(100 * coverage)}% interval half-widths: {widths}")
