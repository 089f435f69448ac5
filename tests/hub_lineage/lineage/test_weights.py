"""weights.py: one rule for mixing weights (--parent, recipes, edge lists), and its users."""

from __future__ import annotations

import math

import pytest

from hub_lineage.errors import InvalidInputError
from hub_lineage.lineage.recipes import parse_recipe
from hub_lineage.lineage.weights import check_weight, normalise_weights
from hub_lineage.predict.predictor import parse_parent


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "-1", "-0.5", "abc", "1e400", True, None])
def test_non_finite_negative_or_non_numbers_are_errors(bad):
    with pytest.raises(InvalidInputError, match="weight"):
        check_weight(bad, "here")


def test_normalising_cannot_overflow_and_keeps_unstated_weights():
    assert normalise_weights([1e308, 1e308]) == normalise_weights([1.0, 1.0]) == [0.5, 0.5]
    assert normalise_weights([3.0, None, 1.0]) == [0.75, None, 0.25]
    assert normalise_weights([None]) == [None]
    assert all(math.isfinite(w) for w in normalise_weights([1e-320, 1e308]))
    with pytest.raises(InvalidInputError, match="every weight is 0"):
        normalise_weights([0.0, 0.0])


@pytest.mark.parametrize("spec", ["a/b:merge:inf", "a/b:merge:-1", "a/b:merge:nan"])
def test_parent_weights_follow_the_rule(spec):
    with pytest.raises(InvalidInputError, match=r"--parent .*weight"):
        parse_parent(spec, "local/x")


def test_a_negative_recipe_weight_is_an_error_not_clipped():
    text = ("models:\n  - model: org/a\n    parameters: {weight: -1}\n"
            "  - model: org/b\n    parameters: {weight: 2}\nmerge_method: linear\n")
    with pytest.raises(InvalidInputError, match="'org/a'.*negative"):
        parse_recipe(text, source="neg.yml")
