"""The estimator contract: parameters from __init__, set_params, clone, one check_is_fitted."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from hub_lineage.data.matrix import ObservationMatrix
from hub_lineage.errors import InvalidInputError, NotFittedError
from hub_lineage.model.base import Estimator, check_is_fitted, clone
from hub_lineage.model.baselines import MF, MLA, MeanBaseline
from hub_lineage.model.factor_models import NCF, LinearFactors
from hub_lineage.model.lrmf import LRMF
from hub_lineage.model.registry import METHODS

ESTIMATORS = [LRMF, MF, MLA, MeanBaseline, NCF, LinearFactors]


def _matrix() -> ObservationMatrix:
    values = np.array([[0.6, 0.3], [0.7, 0.4], [0.2, np.nan]], dtype=np.float32)
    return ObservationMatrix(["a", "b", "c"], ["bbh", "gpqa"], values, ["bbh", "gpqa"], np.array([10.0, 10.0]))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_params_are_the_init_arguments_stored_unchanged(cls):
    est = cls()
    names = list(inspect.signature(cls.__init__).parameters)[1:]
    assert list(est.get_params()) == names
    assert est.get_params(deep=True) == est.get_params()
    defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    assert est.get_params() == defaults
    assert not [k for k in vars(est) if k.endswith("_")]  # nothing fitted-looking before fit


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_copies_parameters_not_state(cls):
    est = cls()
    twin = clone(est)
    assert type(twin) is cls and twin is not est and twin.get_params() == est.get_params()
    with pytest.raises(NotFittedError, match=f"This {cls.__name__} is not fitted yet"):
        check_is_fitted(twin)


def test_set_params_and_clone_are_deep_and_checked():
    est = LRMF(4, relation_weights={"merge": 0.5})
    assert est.set_params(random_state=3, reg=0.1) is est
    assert (est.random_state, est.reg) == (3, 0.1)
    twin = clone(est)
    twin.relation_weights["merge"] = 2.0
    assert est.relation_weights == {"merge": 0.5}
    with pytest.raises(InvalidInputError, match="Did you mean 'random_state'"):
        est.set_params(random_sate=1)
    with pytest.raises(InvalidInputError, match="not a hub-lineage Estimator"):
        clone(object())
    assert repr(est) == "LRMF(n_factors=4, reg=0.1, relation_weights={'merge': 0.5}, random_state=3)"


def test_fit_leaves_the_original_alone_and_checks_parameters_there():
    matrix = _matrix()
    est = MeanBaseline("item")
    fitted = clone(est).fit(matrix)
    check_is_fitted(fitted)
    check_is_fitted(fitted, ["mean_", "items_"])
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        check_is_fitted(fitted, "coef_")
    with pytest.raises(InvalidInputError, match="by='median'"):
        MeanBaseline("median").fit(matrix)  # stored by __init__, refused by fit


def test_mf_fits_lrmf_without_lineage_whatever_lambdas_it_is_given():
    mf = MF(2, lambda_lineage=5.0, max_iter=3, random_state=0)
    with pytest.warns(UserWarning):
        mf.fit(_matrix())
    assert mf.lrmf_.lambda_lineage == 0.0 and mf.lrmf_.lambda_instance == 0.0
    assert mf.lambda_lineage == 5.0  # its own parameter is never changed by fit
    assert mf.predict_proba(["a", "unknown"]).shape == (2, 2)


def test_an_init_with_kwargs_cannot_list_its_parameters():
    class Loose(Estimator):
        def __init__(self, **params):
            self.params = params

    with pytest.raises(TypeError, match="named arguments"):
        Loose().get_params()


def test_every_registered_method_builds_a_cloneable_estimator():
    for name, method in METHODS.items():
        est = method.make()
        assert isinstance(est, Estimator), name
        assert clone(est).get_params() == est.get_params()
