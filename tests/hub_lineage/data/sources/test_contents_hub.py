"""The first-run pull: leaderboard contents (parquet) and lineage from a loopback Hub, for real."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hub_lineage.errors import RepoNotFoundError
from hub_lineage.lineage.hub import HubClient
from hub_lineage.data.sources.contents_hub import CONTENTS_DATASET, pull_leaderboard
from hub_lineage.data.store.database import Store

BASE, INSTRUCT = "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"
FT, MERGE = "org/ft-a", "org/merge-b"


def contents_parquet(models: list[tuple[str, float]]) -> bytes:
    """A contents table shaped like ``open-llm-leaderboard/contents`` (Raw columns are accuracies)."""
    cols = ["IFEval Raw", "BBH Raw", "MATH Lvl 5 Raw", "GPQA Raw", "MUSR Raw", "MMLU-PRO Raw"]
    rows = {"eval_name": [m.replace("/", "_") for m, _ in models], "Precision": ["bfloat16"] * len(models),
            "fullname": [m for m, _ in models], "Architecture": ["Qwen2ForCausalLM"] * len(models),
            "#Params (B)": [7.6] * len(models), "Generation": [0] * len(models),
            "Base Model": [m for m, _ in models]}
    for col in cols:
        rows[col] = [score for _, score in models]
    buffer = io.BytesIO()
    pq.write_table(pa.table(rows), buffer)
    return buffer.getvalue()


def card(*parents: str) -> str:
    listed = "".join(f"\n  - {p}" for p in parents)
    return f"---\nlicense: apache-2.0\nbase_model:{listed}\n---\n# A model\n"


def test_pull_ingests_the_table_and_resolves_lineage_through_unscored_models(hub):
    hub.server.add_dataset(CONTENTS_DATASET, {
        "data/train-00000-of-00001.parquet": contents_parquet([(BASE, 0.4), (FT, 0.5), (MERGE, 0.55)])})
    hub.add_model(BASE, card_text="---\nlicense: apache-2.0\n---\n# Base\n")
    hub.add_model(INSTRUCT, card_text=card(BASE))  # not scored: an intermediate node
    hub.add_model(FT, card_text=card(BASE))
    hub.add_model(MERGE, card_text=card(FT, INSTRUCT))
    with Store() as store:
        seen: list[str] = []
        added = pull_leaderboard(store, HubClient(hub.api, max_retries=0),
                                 progress=lambda models: seen.extend(models) or models)
        assert sorted(store.models()) == sorted([BASE, FT, MERGE]) == sorted(seen)
        assert store.benchmark_scores(MERGE)["bbh"] == pytest.approx(0.55)
        edges = {(e.child, e.parent, e.relation.value) for e in store.lineage_graph().edges if not e.root}
        assert {(MERGE, FT, "merge"), (MERGE, INSTRUCT, "merge"), (INSTRUCT, BASE, "finetune"),
                (FT, BASE, "finetune")} <= edges
        assert added >= 4
        # A second pull adds nothing new (the store is idempotent, the Hub answers are cached).
        assert pull_leaderboard(store, HubClient(hub.api, max_retries=0)) == 0


def test_pull_without_parquet_files_says_so(hub):
    hub.server.add_dataset(CONTENTS_DATASET, {"README.md": "# no table here\n"})
    with Store() as store, pytest.raises(RepoNotFoundError, match="open-llm-leaderboard/contents"):
        pull_leaderboard(store, HubClient(hub.api, max_retries=0))


def test_pull_from_a_hub_without_the_contents_dataset_names_it(hub):
    with Store() as store, pytest.raises(RepoNotFoundError, match="Dataset 'open-llm-leaderboard/contents' was not "
                                                                  "found on the Hub at http://127.0.0.1"):
        pull_leaderboard(store, HubClient(hub.api, max_retries=0))
