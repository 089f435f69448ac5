"""Hostile input and faults (issue 13): one line on stderr and the right exit code, never a traceback.

Exit codes: 0 success, 1 only for a failed ``mergekit-preflight`` gate, 2 bad input or an
environment problem, 3 an internal error (one line pointing to ``HUB_LINEAGE_DEBUG=1``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from cli_runner import run_main
from lm_eval_outputs import write_run
from tiny_predictor import tiny_data, tiny_predictor_dir

from hub_lineage.cli.main import main, run_command
from hub_lineage.data.store.database import Store
from mergekit_hooks.cli import main as preflight_main


def one_line_error(code: int, err: str, expected: int = 2) -> str:
    """The error line, after checking there is exactly one and no traceback."""
    assert code == expected, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith(("Error:", "Internal error"))]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    matrix, graph = tiny_data()
    scores = matrix.benchmark_scores()
    path = tmp_path / "store.sqlite"
    with Store(path) as db:
        run = db.add_run("tiny", "contents")
        db.add_scores(run, [(m, b, float(scores[i, k]), float(matrix.item_counts[k]))
                            for i, m in enumerate(matrix.models) for k, b in enumerate(matrix.benchmarks)])
        db.add_edges(graph.edges)
    return path


def corrupt(path: Path) -> None:
    """Overwrite the store's last pages (data; the header and the schema stay readable)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2 // 4096 * 4096)
        handle.write(b"\xab" * (size - size // 2 // 4096 * 4096))


@pytest.mark.parametrize("results", [[1, 2, 3], {"config": "oops"}, {"versions": 5}, {"model_name": 7}])
def test_an_lm_eval_results_file_of_the_wrong_shape_is_one_line(tmp_path, capsys, results):
    folder = write_run(tmp_path / "out", "org/m", "leaderboard_bbh_navigate", [1, 0])
    next(folder.glob("results_*.json")).write_text(json.dumps(results))
    code, _, err = run_main(["ingest", str(folder), "--store", str(tmp_path / "s.sqlite")], capsys)
    assert "Results file" in one_line_error(code, err)


def test_non_utf8_and_oversized_csv_fields_are_one_line(tmp_path, capsys):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"source,target,edge\n\xff\xfea/b,c/d,merged\n")
    code, _, err = run_main(["ingest", "--format", "edges", str(latin), "--store", str(tmp_path / "s.sqlite")], capsys)
    assert "not UTF-8" in one_line_error(code, err)
    big = tmp_path / "big.csv"
    big.write_text("source,target,edge\na/b,c/" + "x" * 140_000 + ",merged\n")
    code, _, err = run_main(["ingest", str(big), "--store", str(tmp_path / "s.sqlite")], capsys)
    assert "longer than" in one_line_error(code, err)


@pytest.mark.parametrize("command", [["fit"], ["export", "OUT.csv"], ["ingest", "EDGES"]])
def test_a_store_corrupted_past_its_header_is_refused_and_left_alone(store, tmp_path, capsys, command):
    corrupt(store)
    before = store.read_bytes()
    edges = tmp_path / "e.csv"
    edges.write_text("source,target,edge\nx/a,x/b,finetuned\n")
    argv = [{"OUT.csv": str(tmp_path / "o.csv"), "EDGES": str(edges)}.get(a, a) for a in command]
    code, _, err = run_main([*argv, "--store", str(store)], capsys)
    assert "corrupted" in one_line_error(code, err)
    assert store.read_bytes() == before


def test_a_read_only_store_says_so(store, tmp_path, capsys):
    edges = tmp_path / "e.csv"
    edges.write_text("source,target,edge\nx/a,x/b,finetuned\n")
    shutil.rmtree(tmp_path / "ro", ignore_errors=True)
    folder = tmp_path / "ro"
    folder.mkdir()
    ro = folder / "store.sqlite"
    shutil.copy(store, ro)
    # root ignores permission bits: make the file and its folder immutable where chattr works
    made = subprocess.run(["chattr", "+i", str(ro), str(folder)], capture_output=True).returncode == 0
    if not made:
        ro.chmod(0o444)
        folder.chmod(0o555)
        if ro.open("ab").writable() and (folder / "probe").touch() is None:
            (folder / "probe").unlink()
            folder.chmod(0o755)
            pytest.skip("cannot make a read-only file here (running as root without chattr)")
    try:
        code, _, err = run_main(["ingest", str(edges), "--store", str(ro)], capsys)
        line = one_line_error(code, err)
        assert "read-only" in line or "cannot be opened" in line
    finally:
        if made:
            subprocess.run(["chattr", "-i", str(ro), str(folder)])
        folder.chmod(0o755)


@pytest.mark.parametrize("home", ["/proc/hub-lineage-home", "FILE/sub"])
def test_an_unusable_home_is_one_line(tmp_path, capsys, monkeypatch, home):
    regular = tmp_path / "file"
    regular.write_text("x")
    monkeypatch.setenv("HUB_LINEAGE_HOME", home.replace("FILE", str(regular)))
    code, _, err = run_main(["fit"], capsys)
    assert "HUB_LINEAGE_HOME" in one_line_error(code, err)


@pytest.mark.parametrize("damage", ["meta.json", "observed_rows.npy", "graph_nodes.npy"])
def test_a_damaged_predictor_says_refit_and_preflight_does_not_exit_1(tmp_path, capsys, damage):
    directory = tiny_predictor_dir(tmp_path / "predictor")
    target = directory / damage
    target.write_bytes(target.read_bytes()[:40])
    code, _, err = run_main(["predict", "--parent", "alpha/base:finetune", "--predictor", str(directory)], capsys)
    assert "hub-lineage fit" in one_line_error(code, err)
    recipe = tmp_path / "r.yml"
    recipe.write_text("models:\n  - model: alpha/base\n    parameters: {weight: 1}\nmerge_method: linear\n")
    code, _, err = run_main([str(recipe), "--predictor", str(directory)], capsys, preflight_main)
    assert "hub-lineage fit" in one_line_error(code, err)


def test_an_unexpected_error_exits_3_in_one_line_and_debug_shows_it(capsys, monkeypatch):
    @click.command()
    def broken() -> None:
        {}["missing"]

    with pytest.raises(SystemExit) as exc:
        run_command(broken, [], "hub-lineage")
    err = capsys.readouterr().err
    line = one_line_error(exc.value.code, err, expected=3)
    assert "HUB_LINEAGE_DEBUG=1" in line and "KeyError" in line
    monkeypatch.setenv("HUB_LINEAGE_DEBUG", "1")
    with pytest.raises(KeyError):
        run_command(broken, [], "hub-lineage")


def test_first_run_with_the_hub_unreachable_fails_fast(tmp_path, capsys, monkeypatch):
    import time

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.monotonic()
    code, _, err = run_main(["predict", "Qwen/Qwen2.5-7B", "--store", str(tmp_path / "empty.sqlite")], capsys)
    line = one_line_error(code, err)
    assert "http://127.0.0.1:9" in line and "could not be reached" in line
    assert time.monotonic() - start < 15


def test_invalid_json_is_never_printed(tmp_path, capsys):
    directory = tiny_predictor_dir(tmp_path / "predictor")
    for spec in ("alpha/base:merge:inf", "alpha/base:merge:nan", "alpha/base:merge:-1"):
        code, out, err = run_main(["predict", "--parent", spec, "--parent", "beta/base:merge:1", "--json",
                                   "--predictor", str(directory)], capsys)
        assert "weight" in one_line_error(code, err) and out == ""
    code, out, _ = run_main(["predict", "--parent", "alpha/base:merge:1e308", "--parent", "beta/base:merge:1e308",
                             "--json", "--predictor", str(directory)], capsys)
    huge = json.loads(out)  # strict: NaN or Infinity would not parse back the same
    assert huge["predictor_version"]
    code, out, _ = run_main(["predict", "--parent", "alpha/base:merge:1", "--parent", "beta/base:merge:1",
                             "--json", "--predictor", str(directory)], capsys)
    assert huge["predicted"] == json.loads(out)["predicted"]
    assert "NaN" not in out and "Infinity" not in out


def test_an_unwritable_home_is_not_called_a_corrupted_store(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    if subprocess.run(["chattr", "+i", str(home)], capture_output=True).returncode != 0:
        home.chmod(0o555)
    monkeypatch.setenv("HUB_LINEAGE_HOME", str(home))
    try:
        import os

        if os.access(home, os.W_OK):
            pytest.skip("cannot make an unwritable folder here")
        code, _, err = run_main(["fit"], capsys)
        line = one_line_error(code, err)
        assert "not writable" in line and "corrupted" not in line
    finally:
        subprocess.run(["chattr", "-i", str(home)], capture_output=True)
        home.chmod(0o755)
