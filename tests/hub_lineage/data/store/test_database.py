"""The training-matrix store: real leaderboard data, lm-eval sample files, bad input, crashes, concurrency."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from hub_lineage.errors import DataFormatError, StoreError
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.data.sources.lm_eval import doc_hash
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths

from lm_eval_outputs import sample, write_run
from shared_data import SHARED_DATA as DATA  # noqa: E402  (one place locates the real data)
CONTENTS = DATA / "open_llm_leaderboard_contents_2025-02-08.csv"
EDGES = DATA / "hf_lineage_edges_2025-06.csv"
ROOT = Path(__file__).resolve().parents[4]


def need_data() -> None:
    if not CONTENTS.exists():
        pytest.skip(f"real data not found at {DATA}")


# -- real data ------------------------------------------------------------------------------------

def test_contents_and_edges_real_counts_idempotent_and_matrix(tmp_path: Path) -> None:
    need_data()
    with Store(tmp_path / "s.sqlite") as store:
        assert store.is_empty()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = ingest_paths(store, [CONTENTS, EDGES]).to_json()
            again = ingest_paths(store, [CONTENTS, EDGES]).to_json()
        assert first["models"] == 3753 and first["instances"] == 0
        assert first["observations_added"] == 22518  # 3,753 models (gpt2 included) x 6 benchmarks
        assert first["edges_added"] > 30000
        assert again == {**first, "observations_added": 0, "edges_added": 0}
        matrix = store.to_matrix("benchmark")
        assert matrix.items == ["ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro"]
        assert list(matrix.item_counts) == [541, 5761, 1324, 1192, 756, 12032]
        assert matrix.shape == (3753, 6) and matrix.n_observed == 22518
        meta = matrix.model_meta["Qwen/Qwen2.5-7B-Instruct"]
        assert meta["architecture"] == "Qwen2ForCausalLM" and meta["params_b"] > 7 and meta["merged"] is False
        assert meta["chat_template"] is True  # the leaderboard's 'Chat Template' flag (side graph)
        scores = store.benchmark_scores("Qwen/Qwen2.5-7B-Instruct")
        assert scores is not None and 0.3 < scores["mmlu_pro"] < 0.5
        assert store.benchmark_scores("no/such-model") is None
        graph = store.lineage_graph()
        assert "Qwen/Qwen2.5-7B" in graph.ancestors("Qwen/Qwen2.5-7B-Instruct")
        assert any(e.root for e in graph.edges) and any(not e.root for e in graph.edges)
        assert store.add_edges([Edge("me/child", "Qwen/Qwen2.5-7B", Relation.FINETUNE)]) == 1
        assert store.add_edges([Edge("me/child", "Qwen/Qwen2.5-7B", Relation.FINETUNE)]) == 0


def test_mmlu_pro_long_csv(tmp_path: Path) -> None:
    need_data()
    files = [DATA / "mmlu_pro_correctness.csv.gz", DATA / "mmlu_pro_questions.csv.gz", DATA / "mmlu_pro_models.csv"]
    with Store(tmp_path / "s.sqlite") as store:
        report = ingest_paths(store, files).to_json()
        assert report["models"] == 29 and report["instances"] == 12032
        assert report["observations_added"] == 347215 and report["edges_added"] >= 3
        assert ingest_paths(store, files).to_json()["observations_added"] == 0
        matrix = store.to_matrix("instance")
        assert matrix.shape == (29, 12032) and matrix.n_observed == 347215
        assert set(np.unique(matrix.values[matrix.mask])) <= {0.0, 1.0}
        assert matrix.item_texts is not None and all(matrix.item_texts)


# -- lm-eval samples ----------------------------------------------------------------------------------

def test_samples_roundtrip_newest_run_wins_and_history_kept(tmp_path: Path) -> None:
    old = write_run(tmp_path / "old", "org/model", "leaderboard_bbh_navigate", [1, 0, 1],
                    metric="acc_norm", date="2025-01-01T10-00-00.000000")
    new = write_run(tmp_path / "new", "org/model", "leaderboard_bbh_navigate", [1, 1, 1],
                    metric="acc_norm", date="2025-03-01T10-00-00.000000")
    with Store(tmp_path / "s.sqlite") as store:
        assert ingest_paths(store, [new]).to_json()["observations_added"] == 3
        # an older run arriving later is kept but does not win
        late_old = ingest_paths(store, [old]).to_json()
        assert late_old["observations_added"] == 0 and late_old["observations_updated"] == 0
        matrix = store.to_matrix("instance")
        assert matrix.values.tolist() == [[1.0, 1.0, 1.0]]
        assert matrix.item_benchmarks == ["bbh"] * 3
        assert matrix.items[0] == f"leaderboard_bbh_navigate/{doc_hash({'question': 'q0', 'answer': 0})}"
        assert matrix.item_texts[0] == "Question: q0\nAnswer:"
        assert len(store.runs("org/model")) == 2
        newest = write_run(tmp_path / "newest", "org/model", "leaderboard_bbh_navigate", [0, 1, 1, 0],
                           metric="acc_norm", date="2025-05-01T10-00-00.000000")
        report = ingest_paths(store, [newest]).to_json()
        assert report["observations_added"] == 1 and report["observations_updated"] == 1
        assert store.to_matrix("benchmark").values.tolist() == [[0.5]]


def test_bad_lines_skipped_or_strict_stores_nothing(tmp_path: Path) -> None:
    bad = [b'{"doc_id": 99, "truncat', b"not json at all"]
    out = write_run(tmp_path / "o", "org/m", "my_task", [1, 0, None, 1], extra_lines=bad)
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(DataFormatError, match="--strict"):
            ingest_paths(store, [out], strict=True)
        assert store.is_empty()
        with pytest.warns(Warning, match="Skipped 3 sample"):
            report = ingest_paths(store, [out]).to_json()
        assert report["skipped"] == 3 and report["observations_added"] == 3


def test_duplicate_docs_non_utf8_and_versions(tmp_path: Path) -> None:
    dup = json.dumps(sample(0, 0.0)).encode()
    latin = json.dumps(sample(7, 1.0)).encode().replace(b"q7", b"q\xe97")  # a Latin-1 byte
    out = write_run(tmp_path / "o", "org/m", "my_task", [1, 1], extra_lines=[dup, latin])
    other = write_run(tmp_path / "p", "org/m2", "my_task", [1, 0], version="0.4.2")
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.warns(Warning):
            report = ingest_paths(store, [out, other]).to_json()
        assert report["skipped"] == 1 and report["observations_added"] == 5 and report["models"] == 2
        assert {r["lm_eval_version"] for r in store.runs()} == {"0.4.13", "0.4.2"}
        texts = store.to_matrix("instance").item_texts
        assert any("\ufffd" in t for t in texts)


def test_missing_model_name_and_non_binary(tmp_path: Path) -> None:
    anon = write_run(tmp_path / "a", None, "my_task", [1, 0])
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(DataFormatError, match="--model-id"):
            ingest_paths(store, [anon])
        assert ingest_paths(store, [anon], model_id="org/named").models == 1
        assert store.models() == ["org/named"]
        frac = write_run(tmp_path / "f", "org/f", "my_task", [0.5, 1])
        with pytest.raises(DataFormatError, match="non-binary"):
            ingest_paths(store, [frac])
        from hub_lineage.data.sources.lm_eval_metrics import MetricMap
        report = ingest_paths(store, [frac], metrics=MetricMap(non_binary="threshold=0.4"))
        assert report.observations_added == 2


def test_corrupted_and_foreign_files_are_refused_untouched(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not an SQLite file"):
        Store(garbage)
    assert garbage.read_bytes() == b"this is not a database" * 100
    foreign = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE users(id INTEGER)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        Store(foreign)
    assert foreign.read_bytes() == before
    broken = tmp_path / "broken.sqlite"
    Store(broken).close()
    data = bytearray(broken.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    broken.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        Store(broken).models()


CRASH = """
import os, sys
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
store = Store(sys.argv[1])
def crash(runs):
    for done, run in enumerate(runs):
        if done == 2:
            os._exit(9)  # a hard crash mid-ingest (two runs written): no cleanup, no rollback code runs
        yield run
ingest_paths(store, sys.argv[2:], progress=crash)
"""

CONCURRENT = """
import sys
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
with Store(sys.argv[1]) as store:
    print(ingest_paths(store, sys.argv[2:]).observations_added)
"""


def test_crash_mid_ingest_leaves_no_half_run(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / f"r{k}", f"org/m{k}", "my_task", [1, 0, 1]) for k in range(3)]
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        ingest_paths(store, [runs[0]])
    proc = subprocess.run([sys.executable, "-c", CRASH, str(db), *map(str, runs[1:]), str(runs[0])],
                          cwd=ROOT, capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()
    with Store(db) as store:
        assert store.models() == ["org/m0"] and len(store.runs()) == 1


def test_two_concurrent_writers_both_land(tmp_path: Path) -> None:
    a = [write_run(tmp_path / "a", f"org/a{k}", f"task_{k}", [1, 0] * 50) for k in range(4)]
    b = [write_run(tmp_path / "b", f"org/b{k}", f"task_{k}", [0, 1] * 50) for k in range(4)]
    db = tmp_path / "s.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(db), *map(str, group)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for group in (a, b)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-500:] for o in outs]
    assert sorted(int(o[0]) for o in outs) == [400, 400]
    with Store(db) as store:
        matrix = store.to_matrix("instance")
        assert matrix.shape == (8, 400) and matrix.n_observed == 800


def test_atomic_blocks_nest_and_an_inner_failure_undoes_only_its_block(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        with store.atomic():
            store.add_edges([Edge("a/kept", "org/base", Relation.FINETUNE)])
            with pytest.raises(RuntimeError), store.atomic():
                store.add_edges([Edge("b/undone", "org/base", Relation.FINETUNE)])
                raise RuntimeError("the inner block fails")
            assert store.db.in_transaction  # the outer block goes on
        assert [e.child for e in store.lineage_graph().edges] == ["a/kept"]
        with pytest.raises(RuntimeError), store.atomic():
            store.add_edges([Edge("c/undone", "org/base", Relation.FINETUNE)])
            with store.atomic():
                store.add_edges([Edge("d/undone", "org/base", Relation.FINETUNE)])
            raise RuntimeError("the outer block fails after its inner block succeeded")
        assert [e.child for e in store.lineage_graph().edges] == ["a/kept"]
        assert not store.db.in_transaction
        names = {r[0] for r in store.db.execute("SELECT name FROM models")}
        assert names == {"a/kept", "org/base"}


def test_an_ingest_failing_after_some_writers_ran_stores_nothing(tmp_path: Path, monkeypatch) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("child,parent,relation\norg/m,org/base,finetune\n")
    run = write_run(tmp_path / "r", "org/m", "my_task", [1, 0, 1])
    with Store(tmp_path / "s.sqlite") as store:
        def fail(*args, **kwargs):
            raise RuntimeError("the samples writer fails after the edge writer committed its block")

        monkeypatch.setattr(store, "add_samples", fail)
        with pytest.raises(RuntimeError):
            ingest_paths(store, [edges, run])
        assert store.is_empty() and store.lineage_graph().edges == []
        monkeypatch.undo()
        assert ingest_paths(store, [edges, run]).to_json()["edges_added"] == 1


def test_a_store_path_that_is_no_regular_file_is_named_as_such(tmp_path: Path) -> None:
    # --store /dev/null was reported as a "corrupted" store
    import os

    fifo = tmp_path / "pipe.sqlite"
    os.mkfifo(fifo)
    for path in (Path("/dev/null"), fifo):
        if path.exists():
            with pytest.raises(StoreError, match="is not a regular file"):
                Store(path)
