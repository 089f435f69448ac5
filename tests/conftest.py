"""Shared fixtures: an isolated state directory for every test, and a loopback Hugging Face Hub."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so tests can `import hub_server`

from hub_server import HubServer  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
from shared_data import SHARED_DATA  # noqa: E402  (HUB_LINEAGE_DATA honoured, as scripts/demo does)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every cache at a temp dir and keep huggingface_hub quiet and local."""
    home = tmp_path_factory.mktemp("hub_lineage_home")
    monkeypatch.setenv("HUB_LINEAGE_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUB_LINEAGE_DEBUG", raising=False)
    return home


@dataclass
class LoopbackHub:
    """The running loopback Hub (``server``) and an ``HfApi`` pointed at it without a token."""

    server: HubServer
    api: "HfApi"  # noqa: F821  (imported lazily)

    @property
    def url(self) -> str:
        return self.server.url

    def add_model(self, *args, **kwargs):
        return self.server.add_model(*args, **kwargs)


@pytest.fixture
def hub() -> Iterator[LoopbackHub]:
    """A fresh loopback Hub per test: ``hub.server`` (HubServer) and ``hub.api`` (HfApi)."""
    from huggingface_hub import HfApi

    server = HubServer().start()
    try:
        yield LoopbackHub(server, HfApi(endpoint=server.url, token=False))
    finally:
        server.stop()


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (the project's real data), or skip when this checkout lacks it."""
    path = SHARED_DATA.resolve()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (expected ../shared/data beside the repo, or set HUB_LINEAGE_DATA)")
    return path


@pytest.fixture
def card_fixtures() -> Path:
    return FIXTURES / "cards"
