"""Errors and warnings of hub-lineage.

Every error derives from :class:`HubLineageError`, and also from the builtin it resembles, so
callers can catch either (``except FileNotFoundError`` still works). Messages name the bad value
and the rule it broke; the CLI turns any ``HubLineageError`` into a one-line message in one place.
"""

from __future__ import annotations


class HubLineageError(Exception):
    """Root of every error hub-lineage raises on purpose."""


class InvalidInputError(HubLineageError, ValueError):
    """A value given by the user (an id, a file's content, an option) breaks a stated rule."""


class InvalidRepoIdError(InvalidInputError):
    """A string that is not a valid Hub repo id (``org/name``)."""


class DataFormatError(InvalidInputError):
    """A data file (CSV, JSONL, YAML, card) is malformed or lacks a required column or field."""


class RepoNotFoundError(HubLineageError, FileNotFoundError):
    """The Hub (or the local sources, when offline) has no such repository or file."""


class GatedRepoError(HubLineageError, PermissionError):
    """The repository exists but is gated or private: accept its conditions or pass a token."""


class HubUnavailableError(HubLineageError, ConnectionError):
    """The Hub could not be reached (timeouts, 5xx after retries, or offline mode without cache)."""


class NotFittedError(HubLineageError, RuntimeError):
    """A predictor or estimator was used before ``fit`` (or no saved predictor exists)."""


class ModelFitError(HubLineageError, ArithmeticError):
    """Fitting diverged (factors went NaN or infinite)."""


class NoLineageError(HubLineageError, LookupError):
    """A model has neither observations nor any known relative, so nothing can be predicted."""


class StoreError(HubLineageError, OSError):
    """The training-matrix store is corrupted, foreign, or locked."""


class MissingDependencyError(HubLineageError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""


class LineageWarning(UserWarning):
    """Lineage metadata was repaired: a self-loop or cycle broken, an unknown relation mapped."""


class DataWarning(UserWarning):
    """Input rows were skipped or repaired while loading data.

    ``skipped`` is how many input records the warning is about, so that a caller can add the
    warnings' counts into its own (``hub-lineage ingest``'s ``skipped``): ``DataWarning(msg, skipped=n)``.
    """

    def __init__(self, *args: object, skipped: int = 0) -> None:
        super().__init__(*args)
        self.skipped = skipped
