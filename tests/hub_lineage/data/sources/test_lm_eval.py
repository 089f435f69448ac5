"""sources/lm_eval + sample_lines + details_hub: fast line reading, parquet details, details from the Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub_lineage.errors import DataFormatError, DataWarning, GatedRepoError, HubUnavailableError, RepoNotFoundError
from hub_lineage.data.sources import details_hub
from hub_lineage.data.sources.lm_eval import doc_hash, prompt_of, read_output, read_samples_file
from hub_lineage.data.sources.sample_lines import SampleLine
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
from lm_eval_outputs import DATE, DETAILS, details_dataset_files, lm_eval_sample

def slow_fields(record: dict, metric: str) -> tuple:
    return (record.get("filter"), record.get(metric), record.get("doc_hash"), prompt_of(record.get("arguments")),
            record.get("prompt_hash"))


@pytest.mark.parametrize("record", [
    lm_eval_sample(0, 1.0),
    lm_eval_sample(1, 0.0, doc={"question": 'He said "acc_norm": 1.0, "doc_hash": "x" \\ ok', "label": 1}),
    lm_eval_sample(2, True, metric="exact_match", arguments=[["List-layout prompt é 🙂", " a"]]),
    lm_eval_sample(3, 1.0, metric="prompt_level_strict_acc", arguments={"gen_args_0": {"arg_0": 'tab\t"q"\n',
                                                                                       "arg_1": {"until": []}}}),
])
def test_fast_fields_agree_with_json_loads(record: dict) -> None:
    metric = record["metrics"][0]
    line = json.dumps(record, ensure_ascii=False)
    fast = SampleLine(line).fields(metric)
    assert fast is not None and fast == slow_fields(json.loads(line), metric)


def test_unusual_lines_fall_back_to_a_full_parse() -> None:
    reordered = lm_eval_sample(0, 1.0)
    reordered = {"acc_norm": reordered.pop("acc_norm"), **reordered}  # metric value first
    assert SampleLine(json.dumps(reordered)).fields("acc_norm") is None
    no_hash = lm_eval_sample(0, 1.0)
    del no_hash["doc_hash"]
    assert SampleLine(json.dumps(no_hash)).fields("acc_norm") is None
    assert SampleLine('{"doc_id": 1, "trunc').fields("acc") is None
    with pytest.raises(ValueError):
        SampleLine('{"doc_id": 1, "trunc').record()


def test_reordered_and_hashless_lines_still_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "org__m"
    folder.mkdir()
    first = lm_eval_sample(0, 1.0)
    reordered = lm_eval_sample(1, 0.0)
    reordered = {"acc_norm": reordered.pop("acc_norm"), **reordered}
    hashless = lm_eval_sample(2, 1.0)
    del hashless["doc_hash"]
    lines = [json.dumps(r) for r in (first, reordered, hashless)]
    (folder / f"samples_leaderboard_musr_team_allocation_{DATE}.jsonl").write_text("\n".join(lines) + "\n")
    run = read_output(folder)[0]
    assert run.model == "org/m" and run.metric == "acc_norm" and run.values == [1.0, 0.0, 1.0]
    assert run.doc_hashes == [first["doc_hash"], reordered["doc_hash"], doc_hash(hashless["doc"])]
    assert run.prompts[0] == "Few-shot examples...\nQuestion: Q0?\nAnswer:"


def write_parquet(path: Path, records: list[dict]) -> Path:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    # the -details datasets store nested fields as JSON-like columns; keep what pyarrow infers
    rows = [{**r, "doc": json.dumps(r["doc"]), "arguments": [[a["arg_0"], a["arg_1"]] for a in r["arguments"].values()],
             "resps": json.dumps(r["resps"]), "filtered_resps": json.dumps(r["filtered_resps"])} for r in records]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_parquet_details_file(tmp_path: Path) -> None:
    folder = tmp_path / "org__pq-model"
    folder.mkdir()
    records = [lm_eval_sample(i, float(i % 2)) for i in range(5)]
    path = write_parquet(folder / f"samples_leaderboard_bbh_navigate_{DATE}.parquet", records)
    run = read_samples_file(path)
    assert run.model == "org/pq-model" and run.task == "leaderboard_bbh_navigate" and run.metric == "acc_norm"
    assert run.values == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert run.doc_hashes == [r["doc_hash"] for r in records]
    assert run.prompts[1] == "Few-shot examples...\nQuestion: Q1?\nAnswer:"
    with Store(tmp_path / "s.sqlite") as store:
        assert ingest_paths(store, [folder]).observations_added == 5
        assert ingest_paths(store, [path]).observations_added == 0
    broken = folder / f"samples_leaderboard_bbh_snarks_{DATE}.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataFormatError, match="not a readable parquet"):
        read_samples_file(broken)


# -- details datasets on the (loopback) Hub -------------------------------------------------------

def test_details_repo_ids() -> None:
    assert details_hub.is_details_repo_id(DETAILS)
    assert not details_hub.is_details_repo_id("org/model") and not details_hub.is_details_repo_id("a/b/c-details")
    assert details_hub.details_model(DETAILS) == "org/tiny-model"
    files = details_hub.details_files(["a/samples_t_2024-01-01T00-00-00.1.jsonl",
                                       "a/samples_t_2024-01-01T00-00-00.1.parquet", "README.md",
                                       "a/results_2024-01-01T00-00-00.1.json"])
    assert files == ["a/results_2024-01-01T00-00-00.1.json", "a/samples_t_2024-01-01T00-00-00.1.jsonl"]


def test_fetch_details_from_the_hub_and_ingest(hub, tmp_path: Path, monkeypatch) -> None:
    hub.server.add_dataset(DETAILS, details_dataset_files())
    folder = details_hub.fetch_details(DETAILS, api=hub.api, dest=tmp_path / "dl")
    assert sorted(p.name for p in folder.rglob("samples_*.jsonl")) == [
        f"samples_leaderboard_bbh_navigate_{DATE}.jsonl", f"samples_leaderboard_math_algebra_hard_{DATE}.jsonl"]
    assert not any("README" in p for p in hub.server.paths("GET") if "/resolve/" in p)
    with Store(tmp_path / "s.sqlite") as store:
        report = ingest_paths(store, [folder]).to_json()
        assert report["models"] == 1 and report["instances"] == 8 and report["observations_added"] == 8
        assert store.models() == ["org/tiny-model"]
        assert {r["lm_eval_version"] for r in store.runs()} == {"0.4.3"}
        assert ingest_paths(store, [folder]).observations_added == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline, the earlier download is reused
    with pytest.warns(DataWarning, match="earlier download"):
        assert details_hub.fetch_details(DETAILS, api=hub.api, dest=tmp_path / "dl") == folder


def test_gated_missing_and_offline_details(hub, tmp_path: Path, monkeypatch) -> None:
    gated = "open-llm-leaderboard/org__gated-model-details"
    hub.server.add_dataset(gated, details_dataset_files(), gated=True)
    with pytest.raises(GatedRepoError) as caught:
        details_hub.fetch_details(gated, api=hub.api, dest=tmp_path / "g")
    message = str(caught.value)
    assert gated in message and f"{hub.url}/datasets/{gated}" in message  # the Hub that was asked (issue 13)
    assert "accept its conditions" in message and "hf auth login" in message
    with pytest.raises(RepoNotFoundError, match="org__nobody-details"):
        details_hub.fetch_details("open-llm-leaderboard/org__nobody-details", api=hub.api, dest=tmp_path / "n")
    hub.server.add_dataset("open-llm-leaderboard/org__empty-details", {"README.md": "hi"})
    with pytest.raises(DataFormatError, match="no lm-eval samples files"):
        details_hub.fetch_details("open-llm-leaderboard/org__empty-details", api=hub.api, dest=tmp_path / "e")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requests = len(hub.server.requests)
    with pytest.raises(HubUnavailableError, match="Offline mode.*org__gated-model-details"):
        details_hub.fetch_details(gated, api=hub.api, dest=tmp_path / "o")
    assert len(hub.server.requests) == requests  # offline means no request at all
