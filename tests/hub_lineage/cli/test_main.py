"""The CLI: every command has help with an example; ``hub-lineage lineage`` end to end."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub_lineage.cli.main import COMMANDS, cli, library_logging, main
from cli_runner import run_main  # noqa: E402  (tests/ is on sys.path via conftest)

REPO = Path(__file__).resolve().parents[3]
EDGES_CSV = "hf_lineage_edges_2025-06.csv"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the real entry point (with its error handling) in-process."""
    return run_main(argv, capsys, main)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"'hub-lineage {name} --help' shows no example"
    assert f"hub-lineage {name}" in result.output.split("Example", 1)[1]


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def _host(hub) -> None:
    hub.add_model("Qwen/Qwen2.5-7B")
    hub.add_model("Qwen/Qwen2.5-7B-Instruct", "---\nbase_model: Qwen/Qwen2.5-7B\n---\n")
    hub.add_model("org/blend", "---\nbase_model: [Qwen/Qwen2.5-7B-Instruct, \"org/x\"]\n---\n",
                  files={"mergekit_config.yml": "models:\n  - model: Qwen/Qwen2.5-7B-Instruct\n    parameters: {weight: 0.7}\n"
                                                "  - model: org/x\n    parameters: {weight: 0.3}\nmerge_method: linear\n"})
    hub.add_model("org/x", "---\nbase_model: Qwen/Qwen2.5-7B\nbase_model_relation: adapter\n---\n")


def test_lineage_json_against_the_loopback_hub(hub, capsys):
    _host(hub)
    code, out, err = run(["lineage", "org/blend", "--endpoint", hub.url, "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"model", "nodes", "edges"}
    assert data["model"] == "org/blend" and data["nodes"][0] == "org/blend"
    assert set(data["nodes"]) == {"org/blend", "Qwen/Qwen2.5-7B-Instruct", "org/x", "Qwen/Qwen2.5-7B"}
    assert {(e["child"], e["parent"], e["relation"], e["weight"]) for e in data["edges"]} == {
        ("org/blend", "Qwen/Qwen2.5-7B-Instruct", "merge", 0.7),
        ("org/blend", "org/x", "merge", 0.3),
        ("org/x", "Qwen/Qwen2.5-7B", "adapter", None),
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B", "finetune", None),
    }
    assert all(set(e) == {"child", "parent", "relation", "weight"} for e in data["edges"])


def test_lineage_tree_and_mermaid(hub, capsys):
    _host(hub)
    code, out, _ = run(["lineage", "org/blend", "--endpoint", hub.url], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "org/blend"
    assert "├── merge 0.7: Qwen/Qwen2.5-7B-Instruct" in lines
    assert any(line.strip().startswith("└── adapter: Qwen/Qwen2.5-7B") for line in lines)
    code, out, _ = run(["lineage", "org/blend", "--endpoint", hub.url, "--format", "mermaid"], capsys)
    assert code == 0
    assert out.startswith("```mermaid\nflowchart BT\n")
    assert '["Qwen/Qwen2.5-7B-Instruct"]' in out and "-->|merge 0.7|" in out
    assert out.rstrip().endswith("```")


def test_lineage_depth(hub, capsys):
    _host(hub)
    code, out, _ = run(["lineage", "org/blend", "--endpoint", hub.url, "--format", "json", "--depth", "1"], capsys)
    assert code == 0
    assert set(json.loads(out)["nodes"]) == {"org/blend", "Qwen/Qwen2.5-7B-Instruct", "org/x"}
    code, _, err = run(["lineage", "org/blend", "--depth", "-1"], capsys)
    assert code == 2 and "-1" in err
    # depth 0 looked nothing up, then said "no known parents" (issue 13): refused instead
    code, out, err = run(["lineage", "org/blend", "--depth", "0"], capsys)
    assert code == 2 and "x>=1" in err and "no known parents" not in out


def test_lineage_errors_are_one_line_messages(hub, capsys, tmp_path):
    code, _, err = run(["lineage", "org/missing", "--endpoint", hub.url], capsys)
    assert code == 2 and err.startswith("Error: Repository 'org/missing' was not found") and "Traceback" not in err
    code, _, err = run(["lineage", "bad//id", "--endpoint", hub.url], capsys)
    assert code == 2 and "Invalid repo id 'bad//id'" in err
    bad_csv = tmp_path / "edges.csv"
    bad_csv.write_text("parent,child\nQwen/Qwen2.5-7B,org/x\n")
    code, _, err = run(["lineage", "org/x", "--edges", str(bad_csv), "--offline"], capsys)
    assert code == 2 and "edges.csv" in err and "source,target,edge" in err
    code, _, err = run(["lineage", "org/x", "--offline"], capsys)
    assert code == 2 and "Offline mode: 'org/x'" in err


def test_lineage_offline_on_the_real_edge_list(shared_data, capsys):
    """The issue's done-when check: 6 merge parents, reaching Qwen/Qwen2.5-7B."""
    model = "Xiaojian9992024/Qwen2.5-Dyanka-7B-Preview"
    code, out, err = run(["lineage", model, "--edges", str(shared_data / EDGES_CSV), "--format", "json",
                          "--offline"], capsys)
    assert code == 0, err
    data = json.loads(out)
    direct = [e for e in data["edges"] if e["child"] == model]
    assert len(direct) == 6 and {e["relation"] for e in direct} == {"merge"}
    assert "Qwen/Qwen2.5-7B" in data["nodes"]
    assert "self-loop" in err and err.startswith("Warning:")  # the crawl's 42 self-loops, said once


def test_debug_shows_the_traceback(tmp_path):
    env = {"HUB_LINEAGE_DEBUG": "1", "HUB_LINEAGE_HOME": str(tmp_path), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "hub_lineage.cli.main", "lineage", "bad//id", "--offline"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode != 0 and "Traceback" in out.stderr and "InvalidRepoIdError" in out.stderr


def test_hf_hub_offline_is_honoured_without_the_flag(hub, capsys, monkeypatch):
    _host(hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(["lineage", "org/blend", "--endpoint", hub.url], capsys)
    assert code == 2 and "Offline mode" in err
    assert hub.server.requests == []


def test_library_log_records_print_as_stderr_lines_while_a_command_runs(capsys):
    log = logging.getLogger("hub_lineage.somewhere")
    with library_logging():
        log.info("fitting one from the store")
        log.debug("not shown")
        log.warning("the cache record is unreadable")
    log.warning("after the command: Python's own handling again")
    err = capsys.readouterr().err
    assert err.startswith("fitting one from the store\nWarning: the cache record is unreadable\n")
    assert logging.getLogger("hub_lineage").level == logging.NOTSET and not logging.getLogger("hub_lineage").handlers
