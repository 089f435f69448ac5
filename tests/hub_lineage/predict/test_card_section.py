"""The default card: a "Predicted performance" body section and a ``hub_lineage`` key, replaced on
every run (byte-for-byte idempotent), model-index untouched."""

from __future__ import annotations

import yaml
from huggingface_hub import ModelCard

from hub_lineage.predict.card_section import DISCLAIMER, SECTION_START, predictor_date, write_section
from hub_lineage.predict.modelcard import update_card
from hub_lineage.predict.prediction import Driver, Interval, Prediction

VERSION = "0.1.0+abcdef12"
DATE = "2026-11-30"


def _prediction(bbh: float = 0.5377) -> Prediction:
    predicted = {"ifeval": Interval(0.58, 0.30, 0.86), "bbh": Interval(bbh, bbh - 0.06, bbh + 0.06),
                 "mmlu_pro": Interval(0.4215, 0.3566, 0.4864)}
    return Prediction("org/m", predicted, None, [Driver("a/b", "merge", 1, 0.6), Driver("c/d", "finetune", 2, 0.4)])


def _write(text: str, prediction: Prediction | None = None, **kw) -> str:
    return update_card(text, prediction or _prediction(), model_name="org/m", predictor_version=VERSION,
                       predictor_date=DATE, **kw)


def test_section_and_key_added_model_index_untouched_and_rerun_is_byte_identical(card_fixtures):
    original = (card_fixtures / "with_results" / "README.md").read_text()
    once = _write(original)
    front_old, body_old = original.split("\n---\n", 1)
    assert once.startswith(front_old + "\n")  # every old front-matter byte, comment included
    front = yaml.safe_load(once.split("---\n")[1])
    assert front["model-index"] == yaml.safe_load(original.split("---\n")[1])["model-index"]
    assert [r.metric_value for r in ModelCard(once).data.eval_results] == [77.08, 36.58]
    ours = front["hub_lineage"]
    assert ours["predictions"] == {"ifeval": 0.58, "bbh": 0.5377, "mmlu_pro": 0.4215}
    assert ours["intervals"]["bbh"] == [0.4777, 0.5977] and ours["predictor_version"] == VERSION
    assert ours["predictor_date"] == DATE and ours["predicted_from"] == ["a/b", "c/d"]
    body = once.split("\n---\n", 1)[1]
    assert body.startswith(body_old) and body.count(SECTION_START) == 1 and DISCLAIMER in body
    row = next(line for line in body.splitlines() if line.startswith("| BBH (3-shot) |"))
    assert "0.538" in row and "0.478 - 0.598" in row and "a/b" in row and VERSION in row and DATE in row
    assert _write(once) == once
    # a new prediction replaces both, leaving one of each
    newer = _write(once, _prediction(0.6))
    assert newer.count(SECTION_START) == 1 and newer.count("hub_lineage:") == 1
    assert yaml.safe_load(newer.split("---\n")[1])["hub_lineage"]["predictions"]["bbh"] == 0.6
    assert _write(newer, _prediction()) == once


def test_card_without_front_matter_crlf_and_text_after_the_section():
    body = "# My model\n\nNo metadata here."
    once = _write(body)
    assert once.startswith("---\nhub_lineage:\n") and "\n---\n# My model\n\nNo metadata here.\n\n<!--" in once
    assert _write(once) == once
    crlf = "---\r\nlicense: mit\r\n---\r\nbody\r\n"
    updated = _write(crlf)
    assert "\n" not in updated.replace("\r\n", "") and updated.startswith("---\r\nlicense: mit\r\nhub_lineage:")
    assert _write(updated) == updated
    edited = once + "\n## Added by hand later\n"
    again = _write(edited)
    assert again.count(SECTION_START) == 1 and "## Added by hand later" in again
    assert _write(again) == again


def test_model_index_opt_in_on_top_of_the_section(card_fixtures):
    original = (card_fixtures / "merge" / "README.md").read_text()
    both = _write(original, model_index=True)
    front = yaml.safe_load(both.split("---\n")[1])
    assert "hub_lineage" in front and len(front["model-index"][0]["results"]) == 3
    assert _write(both, model_index=True) == both


def test_predictor_date_falls_back_to_the_saved_file(tmp_path):
    assert predictor_date({"fitted_at": "2026-01-02"}, None) == "2026-01-02"
    (tmp_path / "meta.json").write_text("{}")
    assert len(predictor_date({}, tmp_path)) == 10 and predictor_date({}, None) == "unknown date"
    assert write_section("", _prediction(), predictor_version=VERSION, predictor_date=DATE).startswith("---\n")
