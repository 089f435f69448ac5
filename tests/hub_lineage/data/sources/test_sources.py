"""sources/: edge lists, the leaderboard contents table, long CSVs and format detection."""

from __future__ import annotations

import csv
import gzip
import warnings

import numpy as np
import pytest

from hub_lineage.errors import DataFormatError, DataWarning, LineageWarning
from hub_lineage.lineage.edges import Relation
from hub_lineage.data.sources import detect, edges, leaderboard, long_csv

RAW = ["IFEval Raw", "BBH Raw", "MATH Lvl 5 Raw", "GPQA Raw", "MUSR Raw", "MMLU-PRO Raw"]


def write_csv(path, header, rows):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- edge lists ---------------------------------------------------------------------------------


def test_crawl_edge_list(tmp_path):
    path = write_csv(tmp_path / "edges.csv", ["source", "target", "edge"], [
        ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct", "finetuned"],
        ["Qwen/Qwen2.5-7B-Instruct", "bartowski/Qwen2.5-7B-Instruct-GGUF", "quantized"],
        ["Qwen/Qwen2.5-7B-Instruct", "me/merge", "merged"],
        ["Qwen/Qwen2.5-Math-7B", "me/merge", "merged"],
        ["meta-llama/Llama-3.1-8B", "me/lora", "adapter"],
    ])
    graph = edges.load_edge_list(path)
    assert {(e.child, e.parent, e.relation) for e in graph.parents("me/merge")} == {
        ("me/merge", "Qwen/Qwen2.5-7B-Instruct", Relation.MERGE), ("me/merge", "Qwen/Qwen2.5-Math-7B", Relation.MERGE)}
    assert graph.parents("bartowski/Qwen2.5-7B-Instruct-GGUF")[0].relation is Relation.QUANTIZED
    assert graph.parents("me/lora")[0].relation is Relation.ADAPTER
    assert edges.is_edge_list(["source", "target", "edge"])


def test_export_edge_list_with_weights(tmp_path):
    path = write_csv(tmp_path / "export.csv", ["child", "parent", "relation", "weight"],
                     [["me/m", "org/a", "merge", "0.25"], ["me/m", "org/b", "merge", ""]])
    got = {(e.parent, e.weight) for e in edges.iter_edges(path)}
    assert got == {("org/a", 0.25), ("org/b", None)}


def test_edge_list_with_missing_columns_names_them(tmp_path):
    path = write_csv(tmp_path / "bad.csv", ["parent", "child"], [["org/a", "org/b"]])
    with pytest.raises(DataFormatError, match=r"bad\.csv.*\['parent', 'child'\].*source,target,edge"):
        edges.load_edge_list(path)
    with pytest.raises(DataFormatError, match="does not exist"):
        edges.load_edge_list(tmp_path / "nope.csv")


def test_bad_rows_are_skipped_with_one_warning(tmp_path):
    path = write_csv(tmp_path / "e.csv", ["source", "target", "edge"], [
        ["org/a", "org/b", "finetuned"], ["org/a", "org/c", "distilled"], ["", "org/d", "merged"]])
    with pytest.warns(DataWarning, match="Skipped 2 row"):
        graph = edges.load_edge_list(path)
    assert [(e.child, e.parent) for e in graph.edges] == [("org/b", "org/a")]


def test_real_edge_list(shared_data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = edges.load_edge_list(shared_data / "hf_lineage_edges_2025-06.csv")
    assert any(issubclass(w.category, LineageWarning) and "42 self-loop" in str(w.message) for w in caught)
    assert len(graph.edges) > 29_000
    dyanka = "Xiaojian9992024/Qwen2.5-Dyanka-7B-Preview"
    assert len(graph.parents(dyanka)) == 6 and {e.relation for e in graph.parents(dyanka)} == {Relation.MERGE}
    assert "Qwen/Qwen2.5-7B" in graph.ancestors(dyanka)
    for node in list(graph.ancestors(dyanka)) + [dyanka]:
        assert node not in graph.ancestors(node)


# -- leaderboard contents -----------------------------------------------------------------------


def contents_rows():
    header = ["eval_name", "Precision", "Type", "Architecture", "fullname", "#Params (B)", *RAW,
              "Merged", "Generation", "Base Model"]
    rows = [
        ["org_ft_bfloat16", "bfloat16", "fine-tuned", "Qwen2ForCausalLM", "org/ft", "7.6",
         "0.6", "0.5", "0.2", "0.3", "0.4", "0.45", "False", "1", "Qwen/Qwen2.5-7B"],
        ["org_ft_float16", "float16", "fine-tuned", "Qwen2ForCausalLM", "org/ft", "7.6",
         "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "False", "1", "Qwen/Qwen2.5-7B"],
        ["org_merge_bfloat16", "bfloat16", "merge", "?", "org/merge", "0",
         "0.7", "0.55", "", "0.31", "0.41", "0.46", "True", "2", "org/ft (Merge)"],
        ["Qwen_base", "bfloat16", "pretrained", "Qwen2ForCausalLM", "Qwen/Qwen2.5-7B", "7.6",
         "0.3", "0.5", "0.2", "0.3", "0.4", "0.44", "False", "0", "Qwen/Qwen2.5-7B"],
        ["gone", "bfloat16", "fine-tuned", "LlamaForCausalLM", "org/orphan", "-1",
         "0.3", "0.5", "0.2", "0.3", "0.4", "0.44", "False", "1", "Removed"],
    ]
    return header, rows


def test_contents_table(tmp_path):
    path = write_csv(tmp_path / "contents.csv", *contents_rows())
    entries = {e.model: e for e in leaderboard.read_contents(path)}
    assert set(entries) == {"org/ft", "org/merge", "Qwen/Qwen2.5-7B", "org/orphan"}
    assert entries["org/ft"].scores["ifeval"] == pytest.approx(0.6)  # bfloat16 row kept
    assert "math" not in entries["org/merge"].scores
    assert entries["org/merge"].meta["architecture"] is None and entries["org/merge"].meta["params_b"] is None
    assert entries["org/merge"].root == "org/ft" and entries["org/merge"].root_is_merge
    assert entries["Qwen/Qwen2.5-7B"].root is None and entries["org/orphan"].root is None
    matrix = leaderboard.contents_matrix(entries.values())
    assert matrix.values.shape == (4, 6) and np.isnan(matrix.values).sum() == 1
    graph = leaderboard.contents_graph(entries.values())
    root_edges = graph.parents("org/merge")
    assert [(e.parent, e.relation, e.root) for e in root_edges] == [("org/ft", Relation.MERGE, True)]
    assert graph.parents("Qwen/Qwen2.5-7B") == []


def test_contents_table_accepts_legacy_ids_and_drops_invalid_ones(tmp_path):
    header, rows = contents_rows()
    scores = ["0.2", "0.3", "0.0", "0.26", "0.43", "0.11"]
    rows += [["gpt2_bf16", "bfloat16", "pretrained", "GPT2LMHeadModel", "gpt2", "0.137", *scores, "False", "0", "gpt2"],
             ["ft", "bfloat16", "fine-tuned", "GPT2LMHeadModel", "org/gpt2-ft", "0.137", *scores, "False", "1", "gpt2"],
             ["bad", "bfloat16", "fine-tuned", "GPT2LMHeadModel", "org/bad--id", "0.1", *scores, "False", "1", "gpt2"],
             ["badroot", "bfloat16", "fine-tuned", "?", "org/x", "0.1", *scores, "False", "1", "a/b/c"]]
    entries = {e.model: e for e in leaderboard.read_contents(write_csv(tmp_path / "c.csv", header, rows))}
    assert "gpt2" in entries and "org/bad--id" not in entries  # '--' breaks huggingface_hub's rule
    assert entries["gpt2"].root is None and entries["org/gpt2-ft"].root == "gpt2"
    assert entries["org/x"].root is None  # 'a/b/c' is not a repo id


def test_contents_table_missing_columns(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["fullname", "IFEval Raw"], [["org/a", "0.5"]])
    with pytest.raises(DataFormatError, match="BBH Raw"):
        leaderboard.read_contents(path)


def test_real_contents_table(shared_data):
    entries = leaderboard.read_contents(shared_data / "open_llm_leaderboard_contents_2025-02-08.csv")
    assert len(entries) == 3753  # 3,753 unique fullnames, legacy org-less ids such as 'gpt2' included
    assert len({e.model for e in entries}) == len(entries)
    gpt2 = next(e for e in entries if e.model == "gpt2")
    assert len(gpt2.scores) == 6 and gpt2.root is None  # its Base Model is itself
    assert gpt2.scores["ifeval"] == pytest.approx(0.1934168)  # the bfloat16 row of its two
    assert all(0.0 <= v <= 1.0 for e in entries for v in e.scores.values())
    graph = leaderboard.contents_graph(entries)
    assert graph.edges and all(e.root for e in graph.edges)


# -- long CSVs ----------------------------------------------------------------------------------


def test_small_long_csv_with_questions_and_model_map(tmp_path):
    answers = write_csv(tmp_path / "toy_correctness.csv.gz", ["model", "question_id", "correct"], [
        ["base", "1", "1"], ["base", "2", "0"], ["chat", "1", "1"], ["chat", "2", "1"], ["chat", "3", "maybe"]])
    questions = write_csv(tmp_path / "toy_questions.csv", ["question_id", "category", "question", "options"],
                          [["1", "math", "1+1?", "['2','3']"], ["2", "law", "Is it?", "['yes','no']"]])
    models = write_csv(tmp_path / "toy_models.csv", ["model", "hf_id", "parent_hf_id", "relation"],
                       [["base", "org/base", "", ""], ["chat", "org/chat", "org/base", "finetune"]])
    with pytest.warns(DataWarning, match="Skipped 1 row"):
        table = long_csv.load_long_csv(answers, questions=questions, model_map=models)
    assert set(table.matrix.models) == {"org/base", "org/chat"}
    assert table.matrix.values.shape == (2, 2)
    assert [(e.child, e.parent) for e in table.graph.edges] == [("org/chat", "org/base")]


def test_long_csv_wrong_columns(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["model", "score"], [["a", "1"]])
    with pytest.raises(DataFormatError, match="'correct'"):
        long_csv.load_long_csv(path)


def test_real_mmlu_pro(shared_data):
    table = long_csv.load_long_csv(shared_data / "mmlu_pro_correctness.csv.gz",
                                   questions=shared_data / "mmlu_pro_questions.csv.gz",
                                   model_map=shared_data / "mmlu_pro_models.csv")
    assert table.matrix.values.shape == (29, 12032)
    assert np.isnan(table.matrix.values).any()  # models lacking some questions: missing, not zero
    assert len(table.graph.edges) >= 6


# -- detection ----------------------------------------------------------------------------------


def test_detect_real_files(shared_data):
    expected = {
        "open_llm_leaderboard_contents_2025-02-08.csv": "contents",
        "hf_lineage_edges_2025-06.csv": "edges",
        "mmlu_pro_correctness.csv.gz": "long_csv",
        "mmlu_pro_questions.csv.gz": "questions",
        "mmlu_pro_models.csv": "model_map",
    }
    for name, fmt in expected.items():
        assert detect.detect_format(shared_data / name) == fmt


def test_detect_unknown_and_missing(tmp_path):
    path = write_csv(tmp_path / "what.csv", ["a", "b"], [["1", "2"]])
    with pytest.raises(DataFormatError, match="Cannot tell what"):
        detect.detect_format(path)
    with pytest.raises(DataFormatError, match="does not exist"):
        detect.detect_format(tmp_path / "missing.csv")


def test_load_dataset_combines_graph_and_matrix(tmp_path):
    contents = write_csv(tmp_path / "contents.csv", *contents_rows())
    edge_list = write_csv(tmp_path / "edges.csv", ["source", "target", "edge"],
                          [["Qwen/Qwen2.5-7B", "org/ft", "finetuned"]])
    data = detect.load_dataset([contents, edge_list])
    assert set(data.formats.values()) == {"contents", "edges"}
    assert data.matrix is not None and "org/ft" in data.matrix.models
    assert [(e.parent, e.root) for e in data.graph.parents("org/ft")] == [("Qwen/Qwen2.5-7B", False)]


def test_a_question_table_goes_only_to_its_own_benchmark_among_several_long_csvs(tmp_path):
    """musr_correctness + ifeval_correctness + mmlu_pro_questions: the MMLU-Pro texts must not become
    MuSR's or IFEval's prompts (they did, and the product fit embedded them as MuSR's item graph)."""
    answers = {}
    for bench in ("musr", "mmlupro"):
        answers[bench] = write_csv(tmp_path / f"{bench}_correctness.csv", ["model", "instance", "correct"],
                                   [["org/a", "0", "1"], ["org/a", "1", "0"], ["org/b", "0", "1"]])
    questions = write_csv(tmp_path / "mmlupro_questions.csv", ["question_id", "category", "question", "options"],
                          [["0", "math", "What is 2+2?", "['3', '4']"], ["1", "math", "And 3+3?", "['6', '7']"]])
    lonely = write_csv(tmp_path / "texts.csv", ["question_id", "category", "question", "options"],
                       [["0", "math", "Unrelated?", "['x', 'y']"]])
    groups = detect.group_by_format([str(answers["musr"]), str(answers["mmlupro"]), str(questions)])
    assert detect.long_csv_sidecars(answers["musr"], groups)[0] is None
    assert detect.long_csv_sidecars(answers["mmlupro"], groups)[0] == questions
    groups = detect.group_by_format([str(answers["musr"]), str(answers["mmlupro"]), str(lonely)])
    assert detect.long_csv_sidecars(answers["musr"], groups)[0] is None  # several long CSVs: no guessing
    groups = detect.group_by_format([str(answers["musr"]), str(lonely)])
    assert detect.long_csv_sidecars(answers["musr"], groups)[0] == lonely  # the lone pair still pairs
