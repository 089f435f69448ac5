"""Reported results read from a loopback Hub: a 2026 model predicted from a relative that was never
on the leaderboard and reports its scores only in ``.eval_results/``."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from hub_lineage.cli.main import cli
from hub_lineage.data.sources.contents_hub import CONTENTS_DATASET, pull_leaderboard
from hub_lineage.data.store.database import Store
from hub_lineage.lineage.hub import HubClient

COLUMNS = ["IFEval Raw", "BBH Raw", "MATH Lvl 5 Raw", "GPQA Raw", "MUSR Raw", "MMLU-PRO Raw"]
TASKS = ["leaderboard_ifeval", "leaderboard_bbh", "leaderboard_math_hard", "leaderboard_gpqa",
         "leaderboard_musr", "leaderboard_mmlu_pro"]
DATASETS = ["google/IFEval", "SaylorTwift/bbh", "lighteval/MATH-Hard", "Idavidrein/gpqa", "TAUR-Lab/MuSR",
            "TIGER-Lab/MMLU-Pro"]
OFFSETS = np.array([0.1, 0.0, -0.3, -0.2, -0.1, -0.15])
NEW_BASE, NEW_CHILD, INSTRUCT = "new-org/base-2026", "new-org/chat-2026", "old/instruct"


def _contents(rows: dict[str, np.ndarray]) -> bytes:
    table = {"eval_name": [m.replace("/", "_") for m in rows], "Precision": ["bfloat16"] * len(rows),
             "fullname": list(rows), "Architecture": ["Qwen2ForCausalLM"] * len(rows), "#Params (B)": [7.6] * len(rows),
             "Generation": [0] * len(rows), "Base Model": list(rows)}
    for j, col in enumerate(COLUMNS):
        table[col] = [float(v[j]) for v in rows.values()]
    buffer = io.BytesIO()
    pq.write_table(pa.table(table), buffer)
    return buffer.getvalue()


def _card(*parents: str, extra: str = "") -> str:
    listed = "".join(f"\n  - {p}" for p in parents)
    return f"---\nlicense: apache-2.0\n{'base_model:' + listed if parents else ''}\n{extra}---\n# A model\n"


@pytest.fixture
def leaderboard_hub(hub):
    """Two leaderboard families (old/base high, low/base low) and an unscored instruct model whose
    card self-reports GPQA; a 2026 base that reports its scores only in .eval_results/, and its child."""
    rng = np.random.default_rng(0)
    rows = {}
    for root, level in (("old/base", 0.6), ("low/base", 0.3)):
        hub.add_model(root, card_text=_card())
        rows[root] = np.clip(level + OFFSETS, 0.02, 0.98)
        for k in range(6):
            child = f"{root.split('/')[0]}/ft-{k}"
            parent = INSTRUCT if (root == "old/base" and k == 0) else root
            hub.add_model(child, card_text=_card(parent))
            rows[child] = np.clip(level + OFFSETS + rng.normal(0, 0.02, 6), 0.02, 0.98)
    index = ("model-index:\n- name: old/instruct\n  results:\n  - task: {type: text-generation}\n"
             "    dataset: {name: GPQA, type: Idavidrein/gpqa, args: {num_few_shot: 0}}\n"
             "    metrics: [{type: acc_norm, value: 0.41}]\n")
    hub.add_model(INSTRUCT, card_text=_card("old/base", extra=index))
    hub.server.add_dataset(CONTENTS_DATASET, {"data/train-00000-of-00001.parquet": _contents(rows)})
    reported = [{"dataset": {"id": d, "task_id": t}, "value": round(float(v), 4)}
                for d, t, v in zip(DATASETS, TASKS, 0.3 + OFFSETS)]
    hub.add_model(NEW_BASE, card_text=_card(), files={".eval_results/leaderboard.yaml": yaml.safe_dump(reported)})
    hub.add_model(NEW_CHILD, card_text=_card(NEW_BASE))
    return hub


def test_pull_reads_the_unscored_relatives_model_index(leaderboard_hub, tmp_path):
    with Store(tmp_path / "store.sqlite") as store:
        pull_leaderboard(store, HubClient(leaderboard_hub.api, max_retries=0))
        assert store.benchmark_scores(INSTRUCT) == pytest.approx({"gpqa": 0.41})
        kinds = {r["kind"]: r["source"] for r in store.runs(INSTRUCT)}
        assert kinds == {"reported:self-reported": "hf://old/instruct/README.md (model-index)"}


def test_a_model_whose_only_scored_relative_reports_in_eval_results_is_predicted(leaderboard_hub, tmp_path):
    from hub_lineage.predict.predictor import Predictor

    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        pull_leaderboard(store, HubClient(leaderboard_hub.api, max_retries=0))
        assert NEW_BASE not in store.models()
    result = CliRunner().invoke(cli, ["ingest", "--reported", NEW_CHILD, "--store", str(path), "--json",
                                      "--endpoint", leaderboard_hub.url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["observations_added"] == 6
    with Store(path) as store:
        assert store.benchmark_scores(NEW_BASE)["bbh"] == pytest.approx(0.3)
        assert [r["kind"] for r in store.runs(NEW_BASE)] == ["reported:self-reported"]
        assert store.runs(NEW_BASE)[0]["source"] == f"hf://{NEW_BASE}/.eval_results/leaderboard.yaml"
        predictor = Predictor.fit(store, n_folds=3, n_factors=4, max_iter=30)
    prediction = predictor.predict(NEW_CHILD, hub=HubClient(leaderboard_hub.api, max_retries=0))
    assert [d.model for d in prediction.drivers] == [NEW_BASE]
    # predicted near its (low-scoring) parent, not near the high family's level
    assert prediction.predicted["bbh"].mean < 0.45
    again = CliRunner().invoke(cli, ["ingest", "--reported", NEW_CHILD, "--store", str(path), "--json",
                                     "--endpoint", leaderboard_hub.url], catch_exceptions=False)
    assert json.loads(again.output)["observations_added"] == 0  # the same report twice adds nothing
