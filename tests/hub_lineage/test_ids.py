"""ids.py: the one repo-id check (huggingface_hub's rules), used by cards, recipes, sources and the CLI."""

from __future__ import annotations

import pytest

from hub_lineage.errors import InvalidRepoIdError
from hub_lineage.ids import check_repo_id, is_repo_id, looks_like_local_path


@pytest.mark.parametrize("good", ["Qwen/Qwen2.5-7B", "org/name_with.dots-1", "gpt2"])
def test_valid_ids(good):
    assert check_repo_id(good) == good and is_repo_id(good)


@pytest.mark.parametrize("bad,rule", [
    ("a--b/c", "--"),  # the regex copies this check replaced accepted it
    ("org/x..y", r"\.\."),
    ("org/na me", "must use alphanumeric"),
    ("-org/x", "must use alphanumeric"),
    ("x" * 100, "96"),
    ("", "non-empty"),
])
def test_invalid_ids_name_the_value_and_the_rule(bad, rule):
    with pytest.raises(InvalidRepoIdError, match=rf"Invalid repo id {bad!r}: .*{rule}"):
        check_repo_id(bad)
    assert not is_repo_id(bad)


def test_namespace_is_required_when_asked():
    """What `predict REPO_ID` and `card REPO_ID` need: org/name, by the same rules."""
    assert is_repo_id("gpt2") and not is_repo_id("gpt2", namespace=True)
    with pytest.raises(InvalidRepoIdError, match="'gpt2': expected 'org/name'"):
        check_repo_id("gpt2", namespace=True)
    with pytest.raises(InvalidRepoIdError, match="'namespace/repo_name'"):
        check_repo_id("a/b/c", namespace=True)
    with pytest.raises(InvalidRepoIdError, match="'a--b/c'"):
        check_repo_id("a--b/c", namespace=True)


@pytest.mark.parametrize("path", ["./ckpt", "/models/x", "~/m", "C:\\x", "out/run/ckpt-100", "..", "a\\b"])
def test_local_paths(path):
    assert looks_like_local_path(path)


def test_repo_ids_are_not_local_paths():
    assert not looks_like_local_path("org/name") and not looks_like_local_path("gpt2")
