"""The scores ``hub-lineage lineage --format html`` shows: known where measured, else predicted."""

from __future__ import annotations

import warnings
from typing import Any

from hub_lineage.errors import HubLineageError, NotFittedError
from hub_lineage.lineage.graph import LineageGraph


def node_scores(graph: LineageGraph, model: str, predictor_dir: str | None
                ) -> tuple[dict[str, dict[str, Any]], list[str], str]:
    """Per node of ``model``'s lineage: ``{"kind": "known"|"predicted", "scores", "low", "high"}``,
    the benchmarks, and a note for the page. No fitted predictor: no scores, and the note says so."""
    from hub_lineage.predict.loading import load_predictor

    try:
        predictor = load_predictor(predictor_dir, fit_if_missing=False)
    except NotFittedError:
        return {}, [], "No fitted predictor, so no scores are shown (run `hub-lineage fit`, or pass --predictor)."
    out: dict[str, dict[str, Any]] = {}
    nodes = [model, *graph.ancestors(model)]
    for node in nodes:
        known = predictor.observed(node)
        if known:
            out[node] = {"kind": "known", "scores": known}
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prediction = predictor.predict_edges(node, graph.parents(node))
        except HubLineageError:
            continue  # no scored relative among its parents: shown without scores
        out[node] = {"kind": "predicted", "scores": {b: i.mean for b, i in prediction.predicted.items()},
                     "low": {b: i.low for b, i in prediction.predicted.items()},
                     "high": {b: i.high for b, i in prediction.predicted.items()}}
    return out, list(predictor.benchmarks), f"Scores from hub-lineage predictor {predictor.version}."
