"""Mixing weights of a model's parents (``--parent ID:merge:W``, a recipe's ``parameters.weight``).

One rule everywhere: a weight is a finite number >= 0 (a negative or infinite weight is an error,
never clipped or made positive), and a set of weights is scaled to sum to 1 in a way that cannot
overflow (1e308 and 1e308 mean the same as 1 and 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hub_lineage.errors import InvalidInputError


def check_weight(value: Any, where: str) -> float:
    """``value`` as a float: a finite number >= 0, else :class:`InvalidInputError` naming ``where``."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{where}: weight {value!r} is not a number.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"{where}: weight {value!r} is not a number.") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{where}: weight {value!r} is not finite; a weight is a finite number >= 0.")
    if number < 0:
        raise InvalidInputError(f"{where}: weight {value!r} is negative; a weight is a finite number >= 0 "
                                "(hub-lineage does not model subtracting a parent).")
    return number


def normalise_weights(weights: Sequence[float | None], where: str = "weights") -> list[float | None]:
    """The given weights scaled to sum to 1 (None, an unstated weight, stays None).

    Divides by the largest weight first, so the sum cannot overflow. All stated weights zero is an
    error (nothing would be mixed).
    """
    stated = [check_weight(w, where) for w in weights if w is not None]
    if not stated:
        return list(weights)
    top = max(stated)
    if top <= 0:
        raise InvalidInputError(f"{where}: every weight is 0; give at least one parent a positive weight.")
    total = math.fsum(w / top for w in stated)
    return [None if w is None else (float(w) / top) / total for w in weights]
