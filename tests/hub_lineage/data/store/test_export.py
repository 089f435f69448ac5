"""store_export: the long-form CSV/parquet export agrees with the ObservationMatrix view."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hub_lineage.errors import InvalidInputError, StoreError
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths

from lm_eval_outputs import write_run


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_store_export_round_trip(tmp_path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    old = write_run(tmp_path / "old", "org/m", "leaderboard_bbh_navigate", [1, 0, 1], metric="acc_norm",
                    date="2025-01-01T10-00-00.000000")
    new = write_run(tmp_path / "new", "org/m", "leaderboard_bbh_navigate", [0, 0], metric="acc_norm",
                    date="2025-02-01T10-00-00.000000")
    with Store(tmp_path / "s.sqlite") as store:
        ingest_paths(store, [old, new])
        newest_run = max(r["id"] for r in store.runs())
        n = store.export(tmp_path / f"out.{fmt}")
        matrix = store.to_matrix("instance")
    assert n == 3
    if fmt == "csv":
        import csv

        with (tmp_path / "out.csv").open() as handle:
            rows = list(csv.DictReader(handle))
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert list(rows[0]) == ["model", "instance", "benchmark", "value", "count", "metric", "run"]
    got = {r["instance"]: (float(r["value"]), int(r["run"])) for r in rows}
    want = dict(zip(matrix.items, matrix.values[0].tolist()))
    assert {k: v for k, (v, _) in got.items()} == want  # the newest run wins, as in to_matrix
    assert sorted(run for _, run in got.values()).count(newest_run) == 2
    assert {r["benchmark"] for r in rows} == {"bbh"} and {r["metric"] for r in rows} == {"acc_norm"}


def test_export_refuses_unknown_format_and_the_store_itself(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InvalidInputError, match="'xlsx'"):
            store.export(tmp_path / "out.xlsx", "xlsx")
        with pytest.raises(InvalidInputError, match="store itself"):
            store.export(tmp_path / "s.sqlite")


def test_export_command_writes_the_store_and_refuses_bad_input(tmp_path: Path, capsys) -> None:
    from cli_runner import run_main

    run = write_run(tmp_path / "r", "org/m", "leaderboard_bbh_navigate", [1, 0, 1], metric="acc_norm")
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        ingest_paths(store, [run])
    code, out, err = run_main(["export", str(tmp_path / "cells.csv"), "--store", str(db)], capsys)
    assert code == 0, err
    assert out.strip() == f"Wrote 3 rows to {tmp_path / 'cells.csv'}."
    assert len((tmp_path / "cells.csv").read_text().splitlines()) == 4  # header + 3 cells
    code, _, err = run_main(["export", str(tmp_path / "none.csv"), "--store", str(db), "--model", "org/other"],
                            capsys)
    assert code == 0 and len((tmp_path / "none.csv").read_text().splitlines()) == 1
    code, _, err = run_main(["export", str(db), "--store", str(db)], capsys)
    assert code == 2 and "store itself" in err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_failing_half_way_leaves_the_existing_file_byte_identical(tmp_path: Path, monkeypatch,
                                                                          fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    from hub_lineage.data.store import export as store_export

    run = write_run(tmp_path / "r", "org/m", "leaderboard_bbh_navigate", [1, 0, 1], metric="acc_norm")
    out = tmp_path / f"cells.{fmt}"
    out.write_bytes(b"an earlier export\r\nwith CRLF lines\r\n")
    before = out.read_bytes()
    real_batches = store_export._export_batches

    def disk_fills_up(*args):
        yield from real_batches(*args)  # every row is written to the temporary file...
        raise OSError(28, "No space left on device")  # ...then the disk fills up

    monkeypatch.setattr(store_export, "_export_batches", disk_fills_up)
    with Store(tmp_path / "s.sqlite") as store:
        ingest_paths(store, [run])
        with pytest.raises(StoreError, match="No space left"):
            store.export(out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")] == []  # no temporary left


def test_parquet_export_without_pyarrow_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    out = tmp_path / "cells.parquet"
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InvalidInputError, match="Exporting to .*cells.parquet.* needs pyarrow.*pip install pyarrow"):
            store.export(out)
    assert not out.exists()


@pytest.mark.parametrize("name", ["out.json", "out.xlsx", "out"])
def test_export_refuses_a_suffix_it_would_not_honour(tmp_path: Path, name: str) -> None:
    run = write_run(tmp_path / "r", "org/m", "leaderboard_bbh_navigate", [1, 0, 1], metric="acc_norm")
    with Store(tmp_path / "s.sqlite") as store:
        ingest_paths(store, [run])
        with pytest.raises(InvalidInputError, match=r"\*\.csv or \*\.parquet"):
            store.export(tmp_path / name)
        assert not (tmp_path / name).exists()
        assert store.export(tmp_path / name, "csv") == 3  # asked for by name: written


def test_export_to_a_pipe_keeps_the_summary_out_of_the_data(tmp_path: Path, capsys) -> None:
    # `export /dev/stdout --format csv` failed (a temporary file beside /proc/N/fd/pipe:[...]), and the
    # summary line would have landed inside the CSV: the pipe is written in place, the summary on stderr
    import os
    import threading

    from cli_runner import run_main

    run = write_run(tmp_path / "r", "org/m", "leaderboard_bbh_navigate", [1, 0, 1], metric="acc_norm")
    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        ingest_paths(store, [run])
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    code, out, err = run_main(["export", str(fifo), "--format", "csv", "--store", str(db)], capsys)
    reader.join(10)
    assert code == 0, err
    assert out == "" and "Wrote 3 rows" in err
    assert got[0].splitlines()[0].startswith("model,") and len(got[0].splitlines()) == 4
