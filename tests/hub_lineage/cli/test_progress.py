"""Progress bars: huggingface_hub's tqdm, quiet off a terminal and with HF_HUB_DISABLE_PROGRESS_BARS=1.

Run in a fresh interpreter each time: huggingface_hub reads the variable when it is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = """
import sys
from hub_lineage.cli.progress import StepBar
with StepBar(3, "Fitting", disable={disable}) as bar:
    for k in range(3):
        bar(f"step {{k}}")
print(bar.bar.n)
"""


def _run(disable: str, env_value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if env_value is not None:
        env["HF_HUB_DISABLE_PROGRESS_BARS"] = env_value
    return subprocess.run([sys.executable, "-c", SCRIPT.format(disable=disable)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_bar_counts_each_message_as_a_step():
    done = _run("False", None)  # forced on (as on a terminal)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3" and "Fitting" in done.stderr and "step 2" in done.stderr


def test_quiet_when_not_a_terminal_or_disabled_by_the_environment():
    off_terminal = _run("None", None)  # the default: stderr is a pipe here
    assert off_terminal.returncode == 0 and off_terminal.stderr == ""
    disabled = _run("False", "1")  # HF_HUB_DISABLE_PROGRESS_BARS=1 wins even over a forced bar
    assert disabled.returncode == 0 and disabled.stderr == ""
