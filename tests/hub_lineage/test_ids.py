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


AGREEMENT = ["gpt2", "org/name", "Qwen/Qwen2.5-7B-Instruct", "a--b/c", "org/x..y", "-org/x", "org/x-", "org/.x",
             "org/x.git", "a/b/c", "org/na me", "café/x", "x" * 96, "x" * 97, "o" * 96 + "/n", "o" * 97 + "/n",
             "org/", "/name", "org//name", "_/_", "1/2", "org/name.gitx", "org/-", "a.b/c_d-e.f"]


@pytest.mark.parametrize("repo_id", AGREEMENT)
def test_same_verdict_as_huggingface_hub(repo_id):
    """ids.py writes huggingface_hub's rules out (to stay light): both must accept and refuse alike."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
        hub_ok, hub_message = True, ""
    except HFValidationError as exc:
        hub_ok, hub_message = False, str(exc)
    assert is_repo_id(repo_id) == hub_ok
    if not hub_ok:
        with pytest.raises(InvalidRepoIdError) as caught:
            check_repo_id(repo_id)
        # the same words, less huggingface_hub's advice about its own `repo_type` argument
        assert hub_message.replace(" Use `repo_type` argument if needed.", "") in str(caught.value)


def test_checking_an_id_does_not_import_huggingface_hub():
    import subprocess
    import sys

    code = ("import sys; from hub_lineage.ids import check_repo_id; check_repo_id('org/name'); "
            "print('huggingface_hub' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
