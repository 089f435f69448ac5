"""Reported results from the Hub into the store: a repo's model-index and ``.eval_results/`` files.

Used by ``hub-lineage ingest --reported REPO_ID`` (the repo and its ancestors) and by the
first-run pull (the lineage's unscored models). Each (model, source, file) becomes one run of kind
``reported:self-reported`` or ``reported:leaderboard`` whose ``source`` names the file
(``hf://ORG/NAME/.eval_results/x.yaml``), so every observation says where it came from. The runs are
dated at the epoch: a score measured from the leaderboard's tables or lm-eval samples always wins
over one a card reports for the same model and benchmark.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from hub_lineage.benchmarks import BY_KEY
from hub_lineage.data.sources.reported import ReportedScore, from_eval_results, from_model_index, unambiguous
from hub_lineage.errors import HubLineageError
from hub_lineage.lineage.hub_errors import hub_call

if TYPE_CHECKING:
    from hub_lineage.data.store.database import IngestReport, Store
    from hub_lineage.lineage.hub import HubClient

logger = logging.getLogger(__name__)

EVAL_RESULTS_DIR = ".eval_results/"
#: Reported runs' run_time: older than any measured run, so measured scores win.
REPORTED_RUN_TIME = 1.0


def fetch_reported(client: HubClient, repo_id: str) -> list[ReportedScore]:
    """The benchmark scores ``repo_id`` reports in its card's model-index and ``.eval_results/``."""
    api = client.api

    def call(what: str, request: Callable[[], Any]) -> Any:
        return hub_call(request, repo_id=repo_id, what=what, endpoint=client.endpoint, retry=client.retry)

    info = call("model info", lambda: api.model_info(repo_id))
    card = info.card_data.to_dict() if info.card_data is not None else None
    scores = from_model_index(repo_id, card)
    files: dict[str, Any] = {}
    for name in sorted(s.rfilename for s in info.siblings or () if s.rfilename.startswith(EVAL_RESULTS_DIR)):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = call(name, lambda name=name: api.hf_hub_download(repo_id, name, revision=info.sha,
                                                                 cache_dir=client.cache_dir / "files"))
        try:
            with open(path, encoding="utf-8") as handle:
                files[name] = yaml.safe_load(handle)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            logger.warning("Ignored %s of %s: not valid YAML (%s).", name, repo_id, exc)
    return unambiguous(scores + from_eval_results(repo_id, files))


def ingest_reported(store: Store, client: HubClient, repo_ids: Sequence[str], *, relatives: bool = True,
                    skip_scored: bool = False, must_read: bool = True, report: IngestReport | None = None,
                    progress: Callable[[list[str]], Iterable[str]] | None = None) -> IngestReport:
    """Read the reported results of ``repo_ids`` (and, with ``relatives``, their ancestors) into ``store``.

    A named repo that cannot be read raises (unless not ``must_read``); a relative that cannot be
    read is skipped with a warning. ``skip_scored`` leaves out models that already have scores.
    """
    from hub_lineage.data.store.database import IngestReport

    report = report or IngestReport()
    models: list[str] = []
    for repo_id in repo_ids:
        nodes = client.resolve(repo_id).nodes if relatives else [repo_id]
        models += [repo_id] + [n for n in nodes if n != repo_id]
    models = list(dict.fromkeys(models))
    if skip_scored:
        scored = set(store.models())
        models = [m for m in models if m not in scored]
    named = set(repo_ids)
    found: list[ReportedScore] = []
    for model in (progress or (lambda items: items))(models):
        try:
            found += fetch_reported(client, model)
        except HubLineageError as exc:
            if must_read and model in named:
                raise
            logger.warning("Skipped the reported results of %s: %s", model, exc)
    write_reported(store, found, report)
    return report


def write_reported(store: Store, scores: Iterable[ReportedScore], report: IngestReport) -> None:
    """Store ``scores``, one run per (model, source, file); the same scores again add nothing."""
    groups: dict[tuple[str, str, str], list[ReportedScore]] = {}
    for s in scores:
        groups.setdefault((s.model, s.source, s.origin), []).append(s)
    with store.atomic():
        for (model, source, origin), group in groups.items():
            rows = sorted((s.benchmark, round(s.value, 6)) for s in group)
            digest = hashlib.sha256(json.dumps(["reported", model, source, origin, rows]).encode()).hexdigest()
            run = store.add_run(digest, f"reported:{source}", source=f"hf://{model}/{origin}", model=model,
                                run_time=REPORTED_RUN_TIME, n_samples=len(rows))
            if run is None:
                continue  # the same report again
            report.models += 1
            store.add_scores(run, [(model, b, v, float(BY_KEY[b].n_instances)) for b, v in rows], report)
