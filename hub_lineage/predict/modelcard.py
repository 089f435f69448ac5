"""Predicted scores into a model card, never passing for results.

:func:`update_card` is the one entry point (``hub-lineage card`` and mergekit-preflight's README
use it). By default it writes only the body section and ``hub_lineage:`` key of
:mod:`hub_lineage.predict.card_section`; ``model_index=True`` also adds opt-in ``model-index``
entries here, built with huggingface_hub's own :class:`~huggingface_hub.EvalResult`, with
``verified: false``, a source name saying they are predicted, on the scale the dataset's existing
results use (the leaderboard's normalised 0-100 for its six benchmarks), and only for benchmarks
that have no real result in the card. ``.eval_results/`` is never written.

The card is edited *minimally*: the new entries are inserted as text at the end of the right YAML
sequence, located with PyYAML's composer (positions only, nothing constructed), and every other
byte of the card stays as it was. Re-dumping the whole front matter would reorder keys, change
quoting and drop comments, which would "change existing results" in the eyes of a diff.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml

from hub_lineage.errors import DataFormatError
from hub_lineage.predict.front_matter import YAML_BLOCK as _YAML_BLOCK
from hub_lineage.predict.front_matter import content_end as _content_end
from hub_lineage.predict.front_matter import line_after as _line_after
from hub_lineage.predict.front_matter import load_front_matter as _load_front_matter

if TYPE_CHECKING:
    from huggingface_hub import EvalResult

    from hub_lineage.predict.prediction import Prediction

#: Start of the source name of every entry hub-lineage writes; how a second run recognises them.
SOURCE_PREFIX = "Lineage prediction by hub-lineage"
#: Where the method is described (``source.url``; the Hub only keeps a source that has a url).
SOURCE_URL = "https://arxiv.org/abs/2504.19811"

#: benchmark key -> (dataset name, dataset type, few-shot) as the Open LLM Leaderboard's cards write them.
LEADERBOARD_DATASETS: dict[str, tuple[str, str, int]] = {
    "ifeval": ("IFEval (0-Shot)", "HuggingFaceH4/ifeval", 0),
    "bbh": ("BBH (3-Shot)", "BBH", 3),
    "math": ("MATH Lvl 5 (4-Shot)", "hendrycks/competition_math", 4),
    "gpqa": ("GPQA (0-shot)", "Idavidrein/gpqa", 0),
    "musr": ("MuSR (0-shot)", "TAUR-Lab/MuSR", 0),
    "mmlu_pro": ("MMLU-PRO (5-shot)", "TIGER-Lab/MMLU-Pro", 5),
}


#: benchmark key -> the leaderboard's metric type in those cards (its values: normalised 0-100).
LEADERBOARD_METRICS: dict[str, str] = {
    "ifeval": "inst_level_strict_acc and prompt_level_strict_acc", "bbh": "acc_norm", "math": "exact_match",
    "gpqa": "acc_norm", "musr": "acc_norm", "mmlu_pro": "acc",
}


def source_name(predictor_version: str) -> str:
    return f"{SOURCE_PREFIX} {predictor_version} (predicted, not evaluated)"


def update_card(card_text: str, prediction: Prediction, *, model_name: str, predictor_version: str,
                predictor_date: str, model_index: bool = False) -> str:
    """The card with its predicted-performance section and ``hub_lineage`` key (re)written, and with
    ``model_index=True`` unverified model-index entries for benchmarks without a real result."""
    from hub_lineage.predict.card_section import write_section

    if model_index:  # first, so that our key stays last in the front matter (what keeps re-runs identical)
        card_text = add_predictions(card_text, prediction, model_name=model_name, predictor_version=predictor_version)
    return write_section(card_text, prediction, predictor_version=predictor_version, predictor_date=predictor_date)


def prediction_eval_results(prediction: Prediction, *, predictor_version: str) -> list[EvalResult]:
    """One unverified :class:`EvalResult` per predicted benchmark: the leaderboard's six on its
    normalised 0-100 scale (as its results in cards are), any other benchmark as accuracy in [0, 1]."""
    from huggingface_hub import EvalResult  # the card path only; predict never needs it

    from hub_lineage.benchmarks import leaderboard_normalised

    level = round(100 * getattr(prediction, "coverage", 0.9))
    out = []
    for bench, interval in prediction.predicted.items():
        name, dtype, shots = LEADERBOARD_DATASETS.get(bench, (bench, bench, None))
        if bench in LEADERBOARD_DATASETS:
            scale = lambda x, b=bench: round(leaderboard_normalised(b, float(x)), 2)  # noqa: E731
            what, metric = "predicted leaderboard-normalised score", LEADERBOARD_METRICS[bench]
            bounds = f"{scale(interval.low):.2f}-{scale(interval.high):.2f}"
        else:
            scale = lambda x: round(float(x), 4)  # noqa: E731
            what, metric, bounds = "predicted accuracy", "acc", f"{interval.low:.3f}-{interval.high:.3f}"
        out.append(EvalResult(
            task_type="text-generation",
            task_name="Text Generation",
            dataset_type=dtype,
            dataset_name=name,
            dataset_args=None if shots is None else {"num_few_shot": shots},
            metric_type=metric,
            metric_name=f"{what} ({level}% interval {bounds})",
            metric_value=scale(interval.mean),
            verified=False,
            source_name=source_name(predictor_version),
            source_url=SOURCE_URL,
        ))
    return out


def add_predictions(card_text: str, prediction: Prediction, *, model_name: str, predictor_version: str) -> str:
    """Return ``card_text`` with the prediction's scores added to its ``model-index`` (opt-in).

    Existing entries are kept byte for byte; a benchmark that already has a real result or a
    hub-lineage prediction (of any predictor version) is left alone, so running this twice
    changes nothing. Raises
    :class:`DataFormatError` when the front matter is not valid YAML or not a mapping.
    """
    from huggingface_hub.repocard_data import eval_results_to_model_index

    match = _YAML_BLOCK.search(card_text)
    front = match.group(2) if match else ""
    data = _load_front_matter(front)
    done = set(_predicted_datasets(data.get("model-index")))
    real = set(_real_datasets(data.get("model-index")))
    results = [r for r in prediction_eval_results(prediction, predictor_version=predictor_version)
               if r.dataset_type not in done and r.dataset_type not in real and r.dataset_name not in real]
    if not results:
        return card_text
    entries = eval_results_to_model_index(model_name, results)[0]["results"]
    newline = match.group(1)[-2:] if match and match.group(1).endswith("\r\n") else "\n"
    new_front = _insert_results(front, data, entries, model_name)
    if newline != "\n":
        new_front = new_front.replace("\r\n", "\n").replace("\n", newline)
    if match is None:
        return f"---{newline}{new_front.rstrip()}{newline}---{newline}{card_text}"
    start, end = match.span(2)
    return card_text[:start] + new_front + card_text[end:]


def _predicted_datasets(model_index: Any) -> Iterable[str]:
    """Dataset types that already carry a hub-lineage prediction."""
    for entry in model_index or ():
        for result in (entry or {}).get("results") or () if isinstance(entry, dict) else ():
            if not isinstance(result, dict):
                continue
            source = result.get("source") or {}
            if isinstance(source, dict) and str(source.get("name", "")).startswith(SOURCE_PREFIX):
                yield str((result.get("dataset") or {}).get("type"))


def _real_datasets(model_index: Any) -> Iterable[str]:
    """Dataset types (and names) that carry a result not written by hub-lineage."""
    for entry in model_index or ():
        for result in (entry or {}).get("results") or () if isinstance(entry, dict) else ():
            dataset = result.get("dataset") if isinstance(result, dict) else None
            if not isinstance(dataset, dict):
                continue
            source = result.get("source") or {}
            if isinstance(source, dict) and str(source.get("name", "")).startswith(SOURCE_PREFIX):
                continue
            for field in ("type", "name"):
                if dataset.get(field) is not None:
                    yield str(dataset[field])


def _dump(value: Any, dash_column: int) -> str:
    """Block YAML of a list, every line shifted so the dashes sit at ``dash_column``."""
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    pad = " " * dash_column
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def _insert_results(front: str, data: dict[str, Any], entries: list[dict[str, Any]], model_name: str) -> str:
    """Insert ``entries`` (model-index results) into the front matter text, touching nothing else."""
    if "model-index" not in data or not data["model-index"]:
        block = "model-index:\n" + _dump([{"name": model_name, "results": entries}], 0)
        if "model-index" in data:  # an empty `model-index:` key: give it the value
            root = yaml.compose(front, Loader=yaml.SafeLoader)
            key, value = next((k, v) for k, v in root.value if k.value == "model-index")
            return front[:key.start_mark.index] + block.rstrip("\n") + front[value.end_mark.index:]
        sep = "" if not front or front.endswith("\n") else "\n"
        return front + sep + block.rstrip("\n")
    root = yaml.compose(front, Loader=yaml.SafeLoader)
    index_node = next(v for k, v in root.value if k.value == "model-index")
    target = _target_entry(index_node, model_name)
    if target is None:
        return _append_items(front, index_node, [{"name": model_name, "results": entries}])
    results_node = next((v for k, v in target.value if k.value == "results"), None)
    if results_node is None or not isinstance(results_node, yaml.SequenceNode):
        if results_node is not None and _scalar_is_empty(results_node):
            return (front[:results_node.start_mark.index] + "\n"
                    + _dump(entries, target.start_mark.column).rstrip("\n") + front[results_node.end_mark.index:])
        if results_node is not None:
            raise DataFormatError("The model card's model-index 'results' must be a list.")
        if target.flow_style:
            pos = target.end_mark.index - 1  # just before the closing brace
            sep = ", " if target.value else ""
            return front[:pos] + sep + "results: " + json.dumps(entries) + front[pos:]
        pos = _line_after(front, _content_end(target))
        block = " " * target.start_mark.column + "results:\n" + _dump(entries, target.start_mark.column)
        return front[:pos] + _ensure_newline(front, pos) + block.rstrip("\n") + _tail(front, pos)
    return _append_items(front, results_node, entries)


def _target_entry(index_node: yaml.Node, model_name: str) -> yaml.MappingNode | None:
    """The model-index entry named ``model_name``, else the only entry, else None."""
    if not isinstance(index_node, yaml.SequenceNode):
        raise DataFormatError("The model card's 'model-index' must be a list of {name, results} entries.")
    mappings = [n for n in index_node.value if isinstance(n, yaml.MappingNode)]
    for node in mappings:
        name = next((v.value for k, v in node.value if k.value == "name" and isinstance(v, yaml.ScalarNode)), None)
        if name == model_name:
            return node
    return mappings[0] if len(mappings) == 1 and len(index_node.value) == 1 else None


def _append_items(front: str, seq: yaml.SequenceNode, items: list[dict[str, Any]]) -> str:
    if seq.flow_style:
        pos = seq.end_mark.index - 1  # just before the closing bracket
        sep = ", " if seq.value else ""
        return front[:pos] + sep + ", ".join(json.dumps(i) for i in items) + front[pos:]
    pos = _line_after(front, _content_end(seq))
    return front[:pos] + _ensure_newline(front, pos) + _dump(items, seq.start_mark.column).rstrip("\n") + _tail(front, pos)


def _ensure_newline(front: str, pos: int) -> str:
    return "\n" if pos > 0 and front[pos - 1] != "\n" else ""


def _tail(front: str, pos: int) -> str:
    return "\n" + front[pos:] if pos < len(front) else ""


def _scalar_is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null", "Null", "NULL")


def push_card(repo_id: str, card_text: str, *, api: Any, create_pr: bool = True, predictor_version: str = "",
              model_index: bool = False) -> str:
    """Commit ``card_text`` as the repo's README.md; a pull request unless ``create_pr=False``.

    Returns the pull request's (or commit's) URL. Needs a write token (``HF_TOKEN`` or a saved
    login); the token is passed to huggingface_hub and never printed, logged or put in a message.
    """
    from huggingface_hub import CommitOperationAdd, get_token

    from hub_lineage.errors import GatedRepoError
    from hub_lineage.lineage.hub_errors import NO_RETRY, hub_call

    token = api.token if isinstance(getattr(api, "token", None), str) else get_token()
    if not token:
        raise GatedRepoError(
            f"--push needs a Hugging Face token with write access to {repo_id!r}: set HF_TOKEN or run "
            "`hf auth login`. Without --push the updated card is written locally instead.")
    operation = CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card_text.encode("utf-8"))
    message = "Add lineage-predicted scores (hub-lineage" + (f" {predictor_version}" if predictor_version else "") + ")"
    where = ("a \"Predicted performance\" section, the `hub_lineage` metadata key and unverified "
             "(`verified: false`) `model-index` entries for benchmarks without a result") if model_index else (
             "a \"Predicted performance\" section and the `hub_lineage` metadata key; `model-index` and "
             "`.eval_results/` are untouched")
    description = (f"Predicted benchmark scores from this model's lineage by hub-lineage (LRMF, arXiv 2504.19811), "
                   f"in {where}. They are predictions, not evaluations; existing results are unchanged.")
    # not retried: a commit (or pull request) whose answer was lost may have landed already
    info = hub_call(lambda: api.create_commit(repo_id, [operation], commit_message=message,
                                              commit_description=description, create_pr=create_pr, token=token),
                    repo_id=repo_id, what="the model card", endpoint=getattr(api, "endpoint", None),
                    retry=NO_RETRY, write=True)
    return str(info.pr_url if create_pr and info.pr_url else info.commit_url)
