"""The merge-method snapshot equals mergekit's own registry (so the fast path cannot drift)."""

from __future__ import annotations

import warnings

import pytest

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.merge_methods import MERGEKIT_VERSION, METHODS, REQUIRED, get_method


@pytest.fixture(scope="module")
def registry():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*numpy\.core.*", category=DeprecationWarning)
        from mergekit.merge_methods import registered_methods
        from mergekit.merge_methods.base import MISSING
    return {m.spec.name: m.spec for m in registered_methods()}, MISSING


def test_snapshot_names_equal_mergekit_registry(registry):
    specs, _ = registry
    assert sorted(METHODS) == sorted(specs)


def test_snapshot_contracts_and_parameters_equal_mergekit(registry):
    specs, missing = registry
    for name, spec in specs.items():
        ours = METHODS[name]
        c = spec.contract
        assert (ours.base, ours.min_inputs, ours.max_inputs, ours.min_non_base, ours.max_non_base) == (
            c.base.value, c.min_inputs, c.max_inputs, c.min_non_base, c.max_non_base), name
        assert ours.pretty_name == spec.pretty_name, name
        theirs = {p.name: (p.scope.value, REQUIRED if p.default is missing else p.default) for p in spec.parameters}
        assert ours.parameters == theirs, name


def test_installed_mergekit_is_the_snapshot_version():
    from importlib.metadata import version

    assert version("mergekit") == MERGEKIT_VERSION


def test_unknown_method_says_did_you_mean_and_lists_valid_ones():
    with pytest.raises(InvalidInputError) as err:
        get_method("tie", source="r.yml")
    msg = str(err.value)
    assert "r.yml" in msg and "'tie'" in msg and "Did you mean 'ties'" in msg
    assert "dare_ties" in msg and "passthrough" in msg
    with pytest.raises(InvalidInputError, match="'TIES'.*Did you mean 'ties'"):
        get_method("TIES")
    assert get_method("slerp").family == "slerp"
