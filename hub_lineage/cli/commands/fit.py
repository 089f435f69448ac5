"""``hub-lineage fit``: train the predictor from the store."""

from __future__ import annotations

import click

from hub_lineage.cli.options import store_option


@click.command("fit")
@store_option("Store to fit from")
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
    from hub_lineage.predict.predictor import Predictor
    from hub_lineage.data.store.database import Store

    from hub_lineage.cli.progress import StepBar

    params = {} if lambda_lineage is None else {"lambda_lineage": lambda_lineage}
    with StepBar(2, "Fitting") as bar:  # the fit, then the interval calibration
        predictor = Predictor.fit(Store(store_path), coverage=coverage, seed=seed, progress=bar, **params)
    path = predictor.save(out_dir)
    meta = predictor.meta
    click.echo(f"Fitted predictor {predictor.version} on {meta['n_models']} scored models and "
               f"{meta['n_nodes']} lineage nodes ({meta['n_edges']} edges); saved to {path}")
    widths = ", ".join(f"{b} ±{q:.3f}" if q is not None else f"{b} ±inf"
                       for b, q in zip(predictor.benchmarks, meta["intervals"]["quantiles"]))
    click.echo(f"{round(100 * coverage)}% interval half-widths: {widths}")
