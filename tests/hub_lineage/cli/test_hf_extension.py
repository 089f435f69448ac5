"""``hf lineage ...`` through the real ``hf`` executable and an installed-extension manifest.

The manifest is written the way ``hf extensions install`` writes it (huggingface_hub's own
``ExtensionManifest`` saved under ``~/.local/share/hf/extensions/hf-lineage/`` of a temporary HOME),
with the ``hf-lineage`` console script of this venv as the executable, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from tiny_predictor import tiny_predictor_dir

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    return tiny_predictor_dir(tmp_path_factory.mktemp("predictor"))


@pytest.fixture
def hf_home(tmp_path):
    """A temporary HOME where ``hf-lineage`` is installed as ``hf extensions install`` records it."""
    extensions = pytest.importorskip("huggingface_hub.cli.extensions")
    script = BIN / "hf-lineage"
    if not script.is_file():
        pytest.fail(f"{script} is missing: reinstall the package (pip install -e .) so its console scripts exist")
    home = tmp_path / "home"
    manifest = extensions.ExtensionManifest(
        owner="hub-lineage", repo="hf-lineage", repo_id="hub-lineage/hf-lineage", short_name="lineage",
        executable_path=str(script.resolve()), type="python", installed_at=datetime.now(timezone.utc),
        description="Predict a model's benchmark scores from its lineage", commit_sha=None)
    root = Path(str(extensions.EXTENSIONS_ROOT).replace("~", str(home), 1))
    manifest.save(root / "hf-lineage")
    return home


def _hf(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run([str(BIN / "hf"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_hf_lineage_predict_help_runs_through_the_extension(hf_home):
    done = _hf(hf_home, "lineage", "predict", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: hf lineage predict [OPTIONS] [REPO_ID]")
    listed = _hf(hf_home, "--help")
    assert listed.returncode == 0 and "lineage" in listed.stdout


def test_hf_lineage_predicts_a_model(hf_home, predictor_dir):
    done = _hf(hf_home, "lineage", "predict", "alpha/ft-3", "--json", "--predictor", str(predictor_dir))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["model"] == "alpha/ft-3" and set(out["predicted"]) >= {"bbh", "mmlu_pro"}
    assert out["drivers"][0]["model"].startswith("alpha/")
    # the error boundary is hub-lineage's too: a bad id is one line, exit 2
    bad = _hf(hf_home, "lineage", "predict", "not a repo id", "--predictor", str(predictor_dir))
    assert bad.returncode == 2 and bad.stderr.startswith("Error:") and len(bad.stderr.strip().splitlines()) == 1
