"""The estimator contract every model of hub-lineage follows (scikit-learn's).

``__init__`` only stores its keyword hyper-parameters, under their own names; ``fit(matrix,
model_graph=None, instance_graph=None) -> self`` validates them and sets the fitted state in
attributes that end with ``_``; ``predict_proba(models) -> (len(models), n_items)`` starts with
:func:`check_is_fitted`. Because the parameters are exactly ``__init__``'s arguments,
:meth:`Estimator.get_params`, :meth:`Estimator.set_params` and :func:`clone` need no per-class code:
the evaluation loop does ``clone(est).set_params(random_state=seed)`` instead of poking attributes.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from hub_lineage.errors import InvalidInputError, NotFittedError

if TYPE_CHECKING:
    import numpy as np

    from hub_lineage.data.matrix import ObservationMatrix
    from hub_lineage.lineage.graph import LineageGraph

E = TypeVar("E", bound="Estimator")


class ConvergenceWarning(UserWarning):
    """A fit stopped at ``max_iter`` before its objective settled (the message says what to change)."""


class Estimator:
    """Base class: parameters from the ``__init__`` signature, fitted state in ``name_`` attributes.

    Subclasses list every hyper-parameter as an explicit argument of ``__init__`` (no ``*args`` or
    ``**kwargs``) and store it unchanged as ``self.<name>``.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        """The hyper-parameter names: ``__init__``'s arguments, in signature order."""
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in list(inspect.signature(init).parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *{p.name}: an estimator's parameters "
                                "must be named arguments, so get_params can list them.")
            names.append(p.name)
        return names

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """``{name: value}`` of every hyper-parameter (``deep`` is accepted for scikit-learn's sake:
        no estimator here nests another one as a parameter)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: E, **params: Any) -> E:
        """Set hyper-parameters by name and return ``self``; an unknown name raises
        :class:`InvalidInputError` naming it and the valid ones."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                import difflib  # only for the message: 3 ms at import that predict never needs

                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise InvalidInputError(f"{type(self).__name__} has no parameter {name!r}.{hint} "
                                        f"Valid parameters: {', '.join(valid)}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in list(inspect.signature(type(self).__init__).parameters.values())[1:]}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if k not in defaults or defaults[k] is inspect.Parameter.empty or not _same(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- the prediction interface -----------------------------------------------------------------

    def fit(self: E, matrix: ObservationMatrix, model_graph: LineageGraph | None = None,
            instance_graph: Any = None) -> E:  # pragma: no cover - every estimator defines it
        raise NotImplementedError

    def predict_proba(self, models: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        """Probability of a correct answer, shape (len(models), n_items)."""
        raise NotImplementedError

    def fold_in_proba(self, graph: LineageGraph, models: Sequence[str],
                      observations: ObservationMatrix | None = None) -> np.ndarray:
        """Predictions (len(models), n_items) for new ``models`` placed by ``graph``.

        The default ignores ``graph`` and ``observations``: estimators that do not read lineage
        predict a new model as they predict any other.
        """
        check_is_fitted(self)
        return self.predict_proba(models)


def clone(estimator: E) -> E:
    """A new unfitted estimator with the same parameters (deep copies: fitting one never changes the other)."""
    if not isinstance(estimator, Estimator):
        raise InvalidInputError(f"Cannot clone {estimator!r}: it is not a hub-lineage Estimator "
                                "(an object whose parameters are its __init__ arguments).")
    params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
    return type(estimator)(**params)


def check_is_fitted(estimator: Any, attributes: str | Iterable[str] | None = None, *,
                    msg: str | None = None) -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` was fitted.

    Fitted means: it has every one of ``attributes`` or, when None, at least one public attribute
    ending with ``_`` (what ``fit`` sets, never ``__init__``). ``msg`` replaces the message
    (``{name}`` is the class name), for objects whose ``fit`` takes other arguments.
    """
    name = type(estimator).__name__
    if attributes is None:
        fitted = any(k.endswith("_") and not k.startswith("_") for k in vars(estimator))
    else:
        wanted = [attributes] if isinstance(attributes, str) else list(attributes)
        fitted = all(hasattr(estimator, a) for a in wanted)
    if not fitted:
        template = msg or "This {name} is not fitted yet: call fit(matrix, model_graph) first."
        raise NotFittedError(template.format(name=name))


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and the like: an ambiguous truth value counts as changed
        return False


__all__ = ["ConvergenceWarning", "Estimator", "check_is_fitted", "clone"]
