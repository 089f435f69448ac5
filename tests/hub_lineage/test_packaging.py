"""What a user's install gets (pyproject.toml): core requirements, extras and console scripts."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
PROJECT = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=~!\[;]", requirement, maxsplit=1)[0].lower()


def test_pyarrow_is_a_core_requirement():
    """The first-run pull reads the leaderboard's parquet, so a core install must read parquet."""
    assert "pyarrow" in {_name(r) for r in PROJECT["dependencies"]}


def test_extras_use_compatible_ranges_not_exact_pins():
    extras = PROJECT["optional-dependencies"]
    for extra, requirements in extras.items():
        for requirement in requirements:
            assert "==" not in requirement, (extra, requirement)
    assert {_name(r) for r in extras["ncf"]} == {"torch"} and all("~=" in r for r in extras["ncf"])
    assert {_name(r) for r in extras["plot"]} == {"matplotlib"}
    assert "~=" in next(r for r in extras["mergekit"] if _name(r) == "mergekit")
    assert "~=" in next(r for r in extras["harness"] if _name(r) == "lm-eval")
    for extra in ("harness", "mergekit", "embed", "ncf", "plot"):
        assert extra in extras["all"][0]


def test_console_scripts_are_the_same_click_group():
    scripts = PROJECT["scripts"]
    modules = {}
    for name in ("hub-lineage", "hf-lineage"):
        module, _, attr = scripts[name].partition(":")
        modules[name] = importlib.import_module(module)
        assert callable(getattr(modules[name], attr))
    assert modules["hf-lineage"].cli is modules["hub-lineage"].cli
    assert modules["hf-lineage"].PROG_NAME == "hf lineage"
