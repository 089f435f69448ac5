"""``hub-lineage fit``: train the predictor from the store."""

from __future__ import annotations

import json
import time

import click

from hub_lineage.cli.options import json_option, store_option


def describe(meta: dict) -> dict:
    """``fit --json``'s contract from a predictor's meta: models, nodes, params, validation, seconds."""
    return {"models": meta["n_models"], "nodes": meta["n_nodes"], "params": meta["params"],
            "validation": meta.get("validation", {}), "seconds": meta.get("seconds")}


def graph_counts(meta: dict) -> str:
    """Why the fitted graph's counts differ from the store's (issue 13): models are every stored
    model (scored or a lineage node only), and stored edges the graph did not keep, by reason."""
    from hub_lineage.lineage.graph import DROP_REASONS

    models, nodes, kept = meta["n_models"], meta["n_nodes"], meta["n_edges"]
    dropped = {k: v for k, v in meta.get("edges_dropped", {}).items() if v}
    given = kept + sum(dropped.values())
    line = (f"Counts: {nodes} models in the lineage graph, {models} of them scored ({nodes - models} "
            f"unscored, e.g. intermediate models); {kept} edges kept of {given} given")
    if dropped:
        why = ", ".join(f"{n} {DROP_REASONS.get(k, k)}" for k, n in sorted(dropped.items(), key=lambda kv: -kv[1]))
        return f"{line} (dropped: {why})."
    return f"{line}."


@click.command("fit")
@store_option("Store to fit from")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to save the predictor (default: $HUB_LINEAGE_HOME/predictor).")
@click.option("--coverage", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Nominal coverage of the prediction intervals.")
@click.option("--lambda-lineage", "lambda_lineage", type=float, default=None,
              help="Lineage regularisation strength (default: chosen on validation splits of the store's models).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Random seed (factors and folds).")
@json_option()
def fit(store_path: str | None, out_dir: str | None, coverage: float, lambda_lineage: float | None, seed: int,
        as_json: bool) -> None:
    """Train the predictor (LRMF) on the store's scores and lineage, with calibrated intervals.

    Hyper-parameters are chosen as `hub-lineage evaluate` chooses them: each grid point is fitted
    without a validation share of the scored models and scored on predicting them cold-start;
    the best one (validation Pearson of the mean score) is refitted on everything and saved.

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

    from hub_lineage.predict.loading import store_version

    params = {} if lambda_lineage is None else {"lambda_lineage": lambda_lineage}
    start = time.perf_counter()
    version = store_version(store_path)  # before reading: an ingest during the fit makes it stale
    with StepBar(2, "Fitting") as bar:  # the search, then the final fit
        predictor = Predictor.fit(Store(store_path), coverage=coverage, seed=seed, progress=bar, **params)
    if version is not None:
        predictor.meta["store_version"] = version
    path = predictor.save(out_dir)
    meta = predictor.meta
    out = {**describe(meta), "seconds": round(time.perf_counter() - start, 3)}
    if as_json:
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    click.echo(f"Fitted predictor {predictor.version} on {out['models']} scored models and "
               f"{out['nodes']} lineage nodes ({meta['n_edges']} edges) in {out['seconds']:.1f} s; saved to {path}")
    click.echo(graph_counts(meta))
    chosen = ", ".join(f"{k} {v}" for k, v in out["params"].items() if k != "random_state")
    click.echo(f"Hyper-parameters (chosen on validation models): {chosen}")
    val = out["validation"]
    if val.get("pearson_all") is not None:
        per = ", ".join(f"{k[len('pearson_'):]} {v:.3f}" for k, v in val.items()
                        if k.startswith("pearson_") and k != "pearson_all" and v is not None)
        click.echo(f"Validation (cold-start, {meta['n_calibration']} held-out models): Pearson of the mean "
                   f"score {val['pearson_all']:.3f}; per benchmark {per}")
    else:
        click.echo("Validation: too few models with a scored relative to validate on (need 10).")
    if meta.get("correction") is not None:  # the shipped correction; validation above scores it
        plain = (meta.get("validation_uncorrected") or {}).get("pearson_all")
        click.echo("Correction from name, metadata and relatives: "
                   + (f"applied to {', '.join(meta['correction'])}" if meta["correction"]
                      else "none (it did not beat no correction on the validation models)")
                   + (f"; without it the validation Pearson is {plain:.3f}" if plain is not None else ""))
    widths = ", ".join(f"{b} ±{q:.3f}" if q is not None else f"{b} ±inf"
                       for b, q in zip(predictor.benchmarks, meta["intervals"]["quantiles"]))
    click.echo(f"{round(100 * coverage)}% interval half-widths: {widths}")
