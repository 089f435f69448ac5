"""``mergekit-preflight``: exit codes, the JSON contract, the fast path, and a real gated merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub_lineage.benchmarks import BENCHMARK_KEYS
from mergekit_hooks.cli import main
from cli_runner import run_main  # noqa: E402  (tests/ is on sys.path via conftest)

from preflight_data import TINY_A, TINY_B

RECIPES = Path(__file__).resolve().parents[1] / "fixtures" / "recipes"
TIES = str(RECIPES / "ties_qwen.yml")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    return run_main(argv, capsys, main)


def test_fast_path_prints_json_and_imports_neither_torch_nor_mergekit(fitted):
    _, directory, _ = fitted
    # nor scipy: scipy.sparse alone costs ~0.7 s of imports, most of the 1 s budget (issue 5); nor
    # pydantic for a well-formed recipe: its import and the schema build cost ~0.2 s (issue 15); nor
    # numpy: the predictor is read and asked without it (hub_lineage/predict/light.py, ~0.15 s)
    code = (
        "import sys\nfrom mergekit_hooks.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = sorted(m for m in ('torch', 'mergekit', 'transformers', 'lm_eval', 'sentence_transformers',"
        " 'scipy', 'pydantic', 'numpy')"
        " if m in sys.modules)\n"
        "print('@@', rc, ','.join(heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, TIES, "--predictor", str(directory), "--json",
                           "--require", "bbh>=0.0"], capture_output=True, text=True, timeout=120)
    marker = [line for line in proc.stderr.splitlines() if line.startswith("@@")]
    assert marker == ["@@ 0 "], proc.stderr
    data = json.loads(proc.stdout)
    [rec] = data["recipes"]
    assert rec["recipe"] == TIES and rec["passed"] is True
    assert set(rec["predicted"]) == set(BENCHMARK_KEYS)
    assert {p["model"] for p in rec["parents"]} == {
        "Qwen/Qwen2.5-7B", "rombodawg/Rombos-LLM-V2.5-Qwen-7b", "fblgit/cybertron-v4-qw7B-MGS"}
    assert all(p["observed"] is not None and set(p["observed"]) == set(BENCHMARK_KEYS) for p in rec["parents"])


def test_table_shows_intervals_and_parent_scores(fitted, capsys):
    _, directory, scores = fitted
    code, out, _ = run([TIES, "--predictor", str(directory)], capsys)
    assert code == 0
    for bench in BENCHMARK_KEYS:
        assert any(line.strip().startswith(bench) and "[" in line for line in out.splitlines()), out
    assert f"{scores['rombodawg/Rombos-LLM-V2.5-Qwen-7b'][1]:.3f}" in out


def test_exit_codes(fitted, capsys, tmp_path):
    _, directory, _ = fitted
    p = ["--predictor", str(directory)]
    assert run([TIES, *p, "--require", "bbh>=0.0"], capsys)[0] == 0
    code, out, _ = run([TIES, *p, "--require", "bbh>=0.99"], capsys)
    assert code == 1 and "gate bbh>=0.99: FAIL" in out
    bad = tmp_path / "bad.yml"
    bad.write_text(Path(TIES).read_text().replace("merge_method: ties", "merge_method: tie"))
    code, _, err = run([str(bad), *p], capsys)
    assert code == 2 and "unknown merge_method 'tie'" in err and "Did you mean 'ties'" in err
    code, _, err = run([TIES, *p, "--require", "bhh>=0.4"], capsys)
    assert code == 2 and "Unknown benchmark 'bhh'" in err and "mmlu_pro" in err
    code, _, err = run([str(tmp_path / "missing.yml"), *p], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run([TIES, "--predictor", str(tmp_path / "none")], capsys)
    assert code == 2 and "No fitted predictor" in err
    assert run(["--help"], capsys)[0] == 0


def test_strict_changes_a_mean_gate_whose_interval_crosses_the_threshold(fitted, capsys):
    _, directory, _ = fitted
    args = [TIES, "--predictor", str(directory)]
    code, out, _ = run([*args, "--json"], capsys)
    predicted = json.loads(out)["recipes"][0]["predicted"]
    mean = sum(v["mean"] for v in predicted.values()) / len(predicted)
    gate = ["--require", f"mean>={mean - 1e-4:.6f}"]
    assert run([*args, *gate], capsys)[0] == 0
    code, out, _ = run([*args, *gate, "--strict"], capsys)
    assert code == 1 and "gate mean>=" in out and "FAIL" in out


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_models import make_tiny_llama

    root = tmp_path_factory.mktemp("tiny")
    return make_tiny_llama(root / "a", seed=1), make_tiny_llama(root / "b", seed=2)


def test_merge_happens_only_when_gates_pass_and_card_carries_predictions(fitted, tiny_pair, tmp_path, capsys):
    _, directory, _ = fitted
    a, b = tiny_pair
    recipe = tmp_path / "tiny.yml"
    recipe.write_text(f"models:\n  - model: {a}\n    parameters: {{weight: 0.7}}\n"
                      f"  - model: {b}\n    parameters: {{weight: 0.3}}\nmerge_method: linear\ndtype: float32\n")
    args = [str(recipe), "--predictor", str(directory), "--model-id", f"{a}={TINY_A}", "--model-id", f"{b}={TINY_B}"]

    blocked = tmp_path / "blocked"
    code, _, err = run([*args, "--require", "bbh>=0.99", "--merge", str(blocked)], capsys)
    assert code == 1 and "not merging" in err and not blocked.exists()

    out_dir = tmp_path / "merged"
    code, out, _ = run([*args, "--require", "bbh>=0.0", "--merge", str(out_dir), "--json"], capsys)
    assert code == 0
    predicted = json.loads(out)["recipes"][0]["predicted"]
    assert (out_dir / "model.safetensors").is_file() and (out_dir / "config.json").is_file()
    readme = (out_dir / "README.md").read_text()
    assert "mergekit" in readme  # mergekit's own card is kept
    front = yaml.safe_load(readme.split("---")[1])
    assert "model-index" not in front  # predictions never pass for results
    assert "## Predicted performance" in readme and "These are predictions, not evaluations." in readme
    ours = front["hub_lineage"]["predictions"]
    assert set(ours) == set(BENCHMARK_KEYS)
    assert ours == pytest.approx({k: v["mean"] for k, v in predicted.items()}, abs=1e-3)
