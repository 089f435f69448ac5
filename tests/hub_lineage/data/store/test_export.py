"""store_export: the long-form CSV/parquet export agrees with the ObservationMatrix view."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hub_lineage.errors import InvalidInputError
from hub_lineage.data.store.database import Store

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
        store.ingest_paths([old, new])
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
        store.ingest_paths([run])
    code, out, err = run_main(["export", str(tmp_path / "cells.csv"), "--store", str(db)], capsys)
    assert code == 0, err
    assert out.strip() == f"Wrote 3 rows to {tmp_path / 'cells.csv'}."
    assert len((tmp_path / "cells.csv").read_text().splitlines()) == 4  # header + 3 cells
    code, _, err = run_main(["export", str(tmp_path / "none.csv"), "--store", str(db), "--model", "org/other"],
                            capsys)
    assert code == 0 and len((tmp_path / "none.csv").read_text().splitlines()) == 1
    code, _, err = run_main(["export", str(db), "--store", str(db)], capsys)
    assert code == 2 and "store itself" in err
