"""``hub-lineage ingest`` end to end: the --json contract, --strict, --model-id, bad paths, Hub details."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


from hub_lineage.cli.main import main
from hub_lineage.data.store.database import Store

from lm_eval_outputs import DATE, DETAILS, details_dataset_files, write_run
from cli_runner import run_main  # noqa: E402  (tests/ is on sys.path via conftest)

REPO = Path(__file__).resolve().parents[3]
KEYS = ["models", "instances", "observations_added", "observations_updated", "skipped", "edges_added"]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    return run_main(argv, capsys, main)


def test_json_contract_and_idempotence(tmp_path: Path, capsys) -> None:
    out_dir = write_run(tmp_path / "o", "org/model", "leaderboard_bbh_navigate", [1, 0, 1], metric="acc_norm")
    db = tmp_path / "s.sqlite"
    code, out, err = run(["ingest", str(out_dir), "--store", str(db), "--json"], capsys)
    assert code == 0, err
    counts = json.loads(out)
    assert list(counts) == KEYS
    assert counts == {"models": 1, "instances": 3, "observations_added": 3, "observations_updated": 0,
                      "skipped": 0, "edges_added": 0}
    code, out, _ = run(["ingest", str(out_dir), "--store", str(db), "--json"], capsys)
    assert code == 0 and json.loads(out)["observations_added"] == 0
    code, out, _ = run(["ingest", str(out_dir), "--store", str(db)], capsys)
    assert code == 0 and out.strip() == ("models: 1, instances: 3, observations added: 0, observations updated: 0, "
                                         "skipped: 0, edges added: 0")


def test_strict_model_id_and_skipped_lines(tmp_path: Path, capsys) -> None:
    anon = write_run(tmp_path / "a", None, "my_task", [1, 0, 1], extra_lines=[b'{"doc_id": 9, "trunc'])
    db = tmp_path / "s.sqlite"
    code, out, err = run(["ingest", str(anon), "--store", str(db), "--json"], capsys)
    assert code == 2 and out == "" and "--model-id" in err and "Traceback" not in err
    code, out, err = run(["ingest", str(anon), "--store", str(db), "--model-id", "me/named", "--strict"], capsys)
    assert code == 2 and "line 4" in err and "--strict" in err
    with Store(db) as store:
        assert store.is_empty()  # --strict stored nothing
    code, out, err = run(["ingest", str(anon), "--store", str(db), "--model-id", "me/named", "--json"], capsys)
    assert code == 0 and json.loads(out)["skipped"] == 1 and json.loads(out)["observations_added"] == 3
    assert "Skipped 1 sample" in err  # the warning goes to stderr, never into the JSON
    with Store(db) as store:
        assert store.models() == ["me/named"]


def test_missing_and_unknown_paths_exit_2_naming_them(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.sqlite"
    code, out, err = run(["ingest", str(tmp_path / "nope.jsonl"), "--store", str(db)], capsys)
    assert code == 2 and "nope.jsonl" in err and "does not exist" in err
    odd = tmp_path / "table.csv"
    odd.write_text("a,b\n1,2\n")
    code, _, err = run(["ingest", str(odd), "--store", str(db), "--json"], capsys)
    assert code == 2 and "table.csv" in err and "Cannot tell" in err
    code, _, err = run(["ingest", str(tmp_path), "--store", str(db)], capsys)
    assert code == 2 and "no lm-eval samples files" in err
    code, _, err = run(["ingest", str(odd), "--store", str(db), "--format", "bogus"], capsys)
    assert code == 2 and "bogus" in err


def test_details_dataset_from_the_hub(hub, tmp_path: Path, capsys) -> None:
    hub.server.add_dataset(DETAILS, details_dataset_files())
    db = tmp_path / "s.sqlite"
    code, out, err = run(["ingest", DETAILS, "--store", str(db), "--endpoint", hub.url, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"models": 1, "instances": 8, "observations_added": 8, "observations_updated": 0,
                               "skipped": 0, "edges_added": 0}
    assert any(f"samples_leaderboard_bbh_navigate_{DATE}.jsonl" in p for p in hub.server.paths("GET"))
    gated = "open-llm-leaderboard/org__gated-details"
    hub.server.add_dataset(gated, details_dataset_files(), gated=True)
    code, out, err = run(["ingest", gated, "--store", str(db), "--endpoint", hub.url, "--json"], capsys)
    assert code == 2 and out == "" and gated in err and "accept its conditions" in err and "hf auth login" in err
    code, _, err = run(["ingest", "open-llm-leaderboard/org__other-details", "--store", str(db), "--offline"], capsys)
    assert code == 2 and "Offline mode" in err and "org__other-details" in err


def test_json_stdout_is_clean_in_a_real_process(tmp_path: Path) -> None:
    runs = [write_run(tmp_path / f"r{k}", f"org/m{k}", "my_task", [1, 0], extra_lines=[b"garbage"]) for k in range(3)]
    proc = subprocess.run([sys.executable, "-m", "hub_lineage.cli.main", "ingest", *map(str, runs),
                           "--store", str(tmp_path / "s.sqlite"), "--json"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    assert json.loads(proc.stdout)["observations_added"] == 6 and json.loads(proc.stdout)["skipped"] == 3
    assert proc.stderr.count("Skipped 1 sample") == 3
