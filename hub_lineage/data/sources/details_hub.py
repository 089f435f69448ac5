"""Open LLM Leaderboard details from the Hub: ``open-llm-leaderboard/<org>__<model>-details``.

Each such dataset holds one model's per-task samples files (``samples_<task>_<date>.jsonl``, some
also as parquet) in lm-eval's sample schema. :func:`fetch_details` downloads them with
huggingface_hub (``list_repo_files`` / ``hf_hub_download``, ``repo_type="dataset"``) into
``HUB_LINEAGE_HOME/details/<org>__<model>-details/``, keeping the dataset's layout, so the files
are then ingested exactly like local ones (the folder name gives the model id).

These datasets are gated: downloading needs the dataset's conditions accepted on its Hub page and
a login; a 401/403 becomes a GatedRepoError that says so (requests and their errors go through
:func:`hub_lineage.lineage.hub_errors.hub_call`, like every Hub request).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from hub_lineage import paths
from hub_lineage.data.sources.lm_eval import RESULTS_RE, SAMPLE_SUFFIXES, model_from_dirname, samples_files, task_of
from hub_lineage.errors import DataFormatError, DataWarning, HubUnavailableError
from hub_lineage.ids import check_repo_id, is_repo_id
from hub_lineage.lineage.hub_errors import hub_call

if TYPE_CHECKING:
    from huggingface_hub import HfApi

T = TypeVar("T")
DETAILS_SUFFIX = "-details"
logger = logging.getLogger(__name__)


def is_details_repo_id(text: str) -> bool:
    """Whether ``text`` names a leaderboard details dataset (``<owner>/<org>__<model>-details``)."""
    return text.endswith(DETAILS_SUFFIX) and is_repo_id(text, namespace=True)


def details_model(repo_id: str) -> str | None:
    """The evaluated model's Hub id from the dataset name (``org__model-details`` -> ``org/model``)."""
    return model_from_dirname(Path(repo_id.rsplit("/", 1)[-1]))


def details_files(names: list[str]) -> list[str]:
    """The files worth downloading: results files and one samples file per (task, date), JSONL
    preferred over parquet (the same samples twice would only be deduplicated later)."""
    chosen: dict[tuple[str, str, str | None], str] = {}
    results = []
    for name in sorted(names):
        pure = PurePosixPath(name)
        if pure.suffix == ".json" and RESULTS_RE.match(pure.stem):
            results.append(name)
        elif pure.suffix in SAMPLE_SUFFIXES and pure.name.startswith("samples_"):
            task, date = task_of(Path(pure.name))
            key = (str(pure.parent), task, date)
            if key not in chosen or pure.suffix == ".jsonl":
                chosen[key] = name
    return results + sorted(chosen.values())


def fetch_details(repo_id: str, *, api: HfApi | None = None, dest: str | Path | None = None,
                  offline: bool | None = None) -> Path:
    """Download a details dataset's samples (and results) files; return the local folder.

    Offline (``offline=True`` or ``HF_HUB_OFFLINE=1``), an earlier download is reused with a
    warning; without one, HubUnavailableError says what to do.

    Raises
    ------
    InvalidRepoIdError, RepoNotFoundError, GatedRepoError, HubUnavailableError, DataFormatError
        (the dataset holds no samples files).
    """
    check_repo_id(repo_id)
    folder = Path(dest) if dest is not None else paths.home() / "details" / repo_id.rsplit("/", 1)[-1]
    offline = paths.env_offline() if offline is None else offline
    if offline:
        if folder.is_dir() and samples_files(folder):
            warnings.warn(f"Offline: using the earlier download of {repo_id!r} in {folder}.", DataWarning,
                          stacklevel=2)
            return folder
        raise HubUnavailableError(
            f"Offline mode (HF_HUB_OFFLINE): cannot download the details dataset {repo_id!r}. Go online, "
            "or download its samples_*.jsonl files elsewhere and ingest them as local files.")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    # said before the first request: against a failing endpoint the retries take a while
    logger.info("Fetching the details dataset %s from %s ...", repo_id, api.endpoint)
    names = _call(repo_id, "the file list", lambda: api.list_repo_files(repo_id, repo_type="dataset"), api)
    wanted = details_files(names)
    if not any(PurePosixPath(n).name.startswith("samples_") for n in wanted):
        raise DataFormatError(f"The dataset {repo_id!r} holds no lm-eval samples files (samples_<task>_<date>"
                              ".jsonl or .parquet): is it a leaderboard -details dataset?")
    for name in wanted:
        _call(repo_id, name, lambda name=name: api.hf_hub_download(
            repo_id, name, repo_type="dataset", local_dir=folder), api)
    return folder


def _call(repo_id: str, what: str, request: Callable[[], T], api: HfApi) -> T:
    """Run one huggingface_hub request with retries, turning Hub errors into ours."""
    return hub_call(request, repo_id=repo_id, what=what, endpoint=api.endpoint, repo_type="dataset",
                    hint=f"leaderboard details are named open-llm-leaderboard/<org>__<model>{DETAILS_SUFFIX}")
