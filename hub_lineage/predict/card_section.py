"""The default way predictions go into a model card: a body section and a front-matter key we own.

A prediction must never pass for a result, so by default ``model-index`` and ``.eval_results/``
(what the Hub shows as evaluation results and feeds to leaderboards) are left alone. Instead the
card gets

- a "Predicted performance" section at the end of its body, between two HTML comments (invisible
  on the Hub): a table of benchmark, predicted accuracy, interval, the relatives it was predicted
  from, and the predictor's version and date, under a sentence saying these are predictions, not
  evaluations;
- a ``hub_lineage:`` front-matter key with the same numbers, machine-readable.

Running again removes both and writes them anew (the section goes back at the end of the body and
the key at the end of the front matter), so a second run with the same predictor changes no byte.
Everything else in the card is kept byte for byte (the key is cut out by its YAML node positions).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hub_lineage.predict.front_matter import YAML_BLOCK, content_end, line_after, load_front_matter

if TYPE_CHECKING:
    from hub_lineage.predict.prediction import Prediction

#: The front-matter key hub-lineage owns.
FRONT_MATTER_KEY = "hub_lineage"
SECTION_START = "<!-- hub-lineage: predicted performance (generated; `hub-lineage card` rewrites it) -->"
SECTION_END = "<!-- hub-lineage: end of predicted performance -->"
SECTION_TITLE = "## Predicted performance"
DISCLAIMER = ("**These are predictions, not evaluations.** hub-lineage estimated them from the reported "
              "results of this model's relatives on the Hugging Face Hub (its lineage); nobody has run "
              "these benchmarks on this model. Scores are accuracies between 0 and 1, not the Open LLM "
              "Leaderboard's normalised scores.")
#: The leaderboard benchmarks' display names (the leaderboard's own).
DISPLAY = {"ifeval": "IFEval (0-shot)", "bbh": "BBH (3-shot)", "math": "MATH Lvl 5 (4-shot)",
           "gpqa": "GPQA (0-shot)", "musr": "MuSR (0-shot)", "mmlu_pro": "MMLU-Pro (5-shot)"}
METHOD_URL = "https://arxiv.org/abs/2504.19811"

_SECTION = re.compile(re.escape(SECTION_START) + r".*?" + re.escape(SECTION_END) + r"[ \t]*(?:\r\n|\n)?", re.S)


def predictor_date(meta: dict[str, Any], directory: Path | None) -> str:
    """The day the predictor was fitted (``YYYY-MM-DD``): from its metadata, else its saved file's date."""
    if meta.get("fitted_at"):
        return str(meta["fitted_at"])
    if directory is not None and (directory / "meta.json").is_file():  # predictors saved before fitted_at
        return time.strftime("%Y-%m-%d", time.gmtime((directory / "meta.json").stat().st_mtime))
    return "unknown date"


def front_matter_value(prediction: Prediction, *, predictor_version: str, predictor_date: str,
                       n_from: int = 3) -> dict[str, Any]:
    """The ``hub_lineage:`` key's value: predictions, intervals, coverage, version, date, sources."""
    return {
        "note": "Predicted from lineage by hub-lineage; predictions, not evaluation results.",
        "predictor_version": predictor_version,
        "predictor_date": predictor_date,
        "scale": "accuracy (0-1)",
        "coverage": float(prediction.coverage),
        "predictions": {b: round(float(i.mean), 4) for b, i in prediction.predicted.items()},
        "intervals": {b: [round(float(i.low), 4), round(float(i.high), 4)] for b, i in prediction.predicted.items()},
        "predicted_from": [d.model for d in prediction.drivers[:n_from]],
    }


def section_text(prediction: Prediction, *, predictor_version: str, predictor_date: str, n_from: int = 3) -> str:
    """The Markdown section (between its markers, ``\\n`` line ends), one table row per benchmark."""
    level = round(100 * prediction.coverage)
    sources = ", ".join(f"[{d.model}](https://huggingface.co/{d.model}) ({_relation(d.relation, d.hops)})"
                        for d in prediction.drivers[:n_from]) or "its benchmark means (no scored relative)"
    predictor = f"hub-lineage `{predictor_version}`, fitted {predictor_date}"
    rows = [f"| {DISPLAY.get(b, b)} | {i.mean:.3f} | {i.low:.3f} - {i.high:.3f} | {sources} | {predictor} |"
            for b, i in prediction.predicted.items()]
    lines = [SECTION_START, SECTION_TITLE, "", DISCLAIMER, "",
             f"| Benchmark | Predicted score | {level}% interval | Predicted from | Predictor (version, date) |",
             "|---|---|---|---|---|", *rows, "",
             f"Method: lineage-regularized matrix factorization ([arXiv 2504.19811]({METHOD_URL})). "
             f"The same numbers are in this card's `{FRONT_MATTER_KEY}` metadata.",
             SECTION_END]
    return "\n".join(lines) + "\n"


def _relation(relation: str, hops: int) -> str:
    what = {"finetune": "fine-tuned from it", "merge": "merged from it", "adapter": "adapter of it",
            "quantized": "quantized from it", "descendant": "a descendant", "relative": "a relative"}
    hop = f"{hops} hop" + ("s" if hops != 1 else "")
    return f"{what.get(relation, relation)}, {hop}"


def write_section(card_text: str, prediction: Prediction, *, predictor_version: str, predictor_date: str) -> str:
    """``card_text`` with the predicted-performance section and the ``hub_lineage`` key (re)written.

    Raises :class:`~hub_lineage.errors.DataFormatError` when the front matter is not a YAML mapping.
    """
    crlf = card_text[:card_text.find("\n") + 1].endswith("\r\n")  # a CRLF card stays CRLF
    work = card_text.replace("\r\n", "\n") if crlf else card_text
    match = YAML_BLOCK.search(work)
    front = match.group(2) if match else ""
    data = load_front_matter(front)
    if FRONT_MATTER_KEY in data:  # cut the old key out by its node positions
        root = yaml.compose(front, Loader=yaml.SafeLoader)
        key, value = next((k, v) for k, v in root.value if k.value == FRONT_MATTER_KEY)
        start = front.rfind("\n", 0, key.start_mark.index) + 1
        front = front[:start] + front[line_after(front, content_end(value)):]
    value = front_matter_value(prediction, predictor_version=predictor_version, predictor_date=predictor_date)
    block = yaml.safe_dump({FRONT_MATTER_KEY: value}, sort_keys=False, default_flow_style=None,
                           allow_unicode=True, width=1000).rstrip("\n")
    front = front + ("" if not front or front.endswith("\n") else "\n") + block
    if match:
        head, closing, body = work[:match.start(2)], match.group(3), work[match.end():]
        if not closing.endswith("\n"):
            closing += "\n"
    else:
        head, closing, body = "---\n", "\n---\n", work
    body = _remove_section(body)
    sep = "" if not body else "\n" if body.endswith("\n") else "\n\n"
    body += sep + section_text(prediction, predictor_version=predictor_version, predictor_date=predictor_date)
    text = head + front + closing + body
    return text.replace("\n", "\r\n") if crlf else text


def _remove_section(body: str) -> str:
    """``body`` without our section and the one blank line that set it apart."""
    found = _SECTION.search(body)
    if found is None:
        return body
    head = body[:found.start()]
    if head.endswith("\n\n"):
        head = head[:-1]
    return head + body[found.end():]
