"""`hub-lineage eval` bad input that needs no lm-eval run: refused in one line, before lm-eval is imported.

The real lm-eval runs (tiny Llama, local tasks) are in tests/harness_ext/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BAD = [
    (["--budget", "0"], "Error: --budget 0: the number of docs to evaluate per task must be at least 1."),
    (["--budget", "-5"], "Error: --budget -5: the number of docs to evaluate per task must be at least 1."),
    (["--budget", "10", "--limit", "20"],
     "Error: --budget 10 with --limit 20: give one of them (--budget draws docs at random; --limit takes the "
     "first ones)."),
    (["--budget", "10", "--samples", '{"qa": [1, 2]}'],
     "Error: --budget 10 with --samples: give one of them (--budget chooses the docs)."),
    (["--metadata", "[1]"], "Error: --metadata '[1]': give a JSON object."),
]


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_input_is_one_line_before_lm_eval(extra: list[str], message: str, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    argv = ["eval", "--model", "hf", "--model_args", "pretrained=none", "--tasks", "qa", "--store", str(db), *extra]
    code = ("import sys, json\nfrom hub_lineage.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print(json.dumps([code, 'lm_eval' in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [2, False]
    assert proc.stderr.strip().splitlines() == [message]
    assert not db.exists()  # nothing written
