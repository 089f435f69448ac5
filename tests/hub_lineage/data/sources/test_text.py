"""text.py and the CSV loaders over it: decoding, BOMs, bad rows counted and said, never a traceback."""

from __future__ import annotations

import gzip
import warnings

import pytest

from hub_lineage.data.sources import detect, edges, leaderboard
from hub_lineage.data.sources.text import MAX_FIELD, read_header
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
from hub_lineage.errors import DataFormatError, DataWarning


def test_a_byte_order_mark_csv_is_recognised(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfsource,target,edge\r\nbom/a,bom/b,finetuned\r\n")
    assert read_header(path) == ["source", "target", "edge"]
    assert detect.detect_format(path) == "edges"
    assert [(e.child, e.parent) for e in edges.load_edge_list(path).edges] == [("bom/b", "bom/a")]
    gz = tmp_path / "excel.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert detect.detect_format(gz) == "edges"


@pytest.mark.parametrize("body, match", [
    (b"source,target,edge\n\xff\xfea/b,c/d,merged\n", "not UTF-8"),
    (b"source,target,edge\na/b,c/" + b"x" * (MAX_FIELD + 10) + b",merged\n", "longer than"),
])
def test_undecodable_or_oversized_rows_are_one_line_errors(tmp_path, body, match):
    path = tmp_path / "bad.csv"
    path.write_bytes(body)
    with pytest.raises(DataFormatError, match=match):
        list(edges.iter_edges(path))


def test_invalid_ids_and_weights_in_an_edge_list_are_skipped_counted_and_named(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("source,target,edge,weight\nbad id/x,good/y,merged,\n../../x,good/z,merged,\n"
                    "a/b,c\x00d/e,merged,\nok/a,ok/b,merged,-1\nok/a,ok/c,merged,inf\nok/a,ok/d,merged,0.5\n")
    with pytest.warns(DataWarning, match=r"Skipped 5 row\(s\) of e.csv \(first: line 2: 'bad id/x'") as said:
        graph = edges.load_edge_list(path)
    assert said[0].message.skipped == 5
    assert [(e.child, e.parent, e.weight) for e in graph.edges] == [("ok/d", "ok/a", 0.5)]


def test_scores_out_of_range_or_not_numbers_are_said_and_counted(tmp_path):
    header = ["eval_name", "Precision", "fullname", "IFEval Raw", "BBH Raw", "MATH Lvl 5 Raw", "GPQA Raw",
              "MUSR Raw", "MMLU-PRO Raw", "Generation", "Base Model"]
    rows = [["a", "bfloat16", "org/a", "0.5", "45.2", "abc", "inf", "", "0.3", "0", "org/a"],
            ["b", "bfloat16", "bad id", "0.5", "0.5", "0.5", "0.5", "0.5", "0.5", "0", ""]]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    with pytest.warns(DataWarning, match=r"1 row\(s\).*3 score\(s\) not a number in \[0, 1\]") as said:
        entries = leaderboard.read_contents(path)
    assert said[0].message.skipped == 4
    assert [e.model for e in entries] == ["org/a"] and set(entries[0].scores) == {"ifeval", "mmlu_pro"}


def test_ingest_counts_every_skipped_row(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_text("source,target,edge\n" + "".join(f"x y{i},??,zz\n" for i in range(500)) + "ok/a,ok/b,finetuned\n")
    with Store(tmp_path / "s.sqlite") as store, warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        report = ingest_paths(store, [path])
    assert report.skipped == 500 and report.edges_added == 1
    assert sum("Skipped 500" in str(w.message) for w in said) == 1  # said once, still said


def test_a_column_named_twice_is_refused_not_read_as_its_last_copy(tmp_path):
    # source,target,edge,target stored org/b as the child of Qwen and dropped org/a without a word
    path = tmp_path / "twice.csv"
    path.write_text("source,target,edge,target\nQwen/Qwen2.5-7B,org/a,finetuned,org/b\n")
    for read in (read_header, lambda p: list(edges.iter_edges(p)), detect.detect_format):
        with pytest.raises(DataFormatError, match="'target' appears more than once"):
            read(path)
    store_path = tmp_path / "s.sqlite"
    with Store(store_path) as store, pytest.raises(DataFormatError, match="twice.csv"):
        ingest_paths(store, [path])
    with Store(store_path) as store:
        assert store.lineage_graph().edges == []
