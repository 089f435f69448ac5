"""Read the few fields hub-lineage needs from an lm-eval sample line without decoding all of it.

A leaderboard samples line is 5-50 kB: the document, every request's full few-shot prompt (one per
answer choice) and the model's responses. The store needs five small fields: the filter, the
metric value, ``doc_hash``, ``prompt_hash`` and the first prompt. lm-eval writes each line with
``json.dumps`` (default separators) in a fixed key order: ``doc_id, doc, target, arguments, resps,
filtered_resps, filter, metrics, doc_hash, prompt_hash, target_hash`` and then the metric values.
So the small fields are located from the end of the line (a key's quote inside a JSON string is
always escaped, so an unescaped ``"key": `` is a key) and decoded with the json module's own
C scanner, which is several times faster than ``json.loads`` of the whole line. Anything unusual
(another layout, a key missing, a value that does not end where a value should) falls back to
``json.loads``, so the fast path never changes a result; it only skips validating the bytes of
the big fields between the fields it reads (a line must still start with ``{`` and end with ``}``).
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

_DECODER = json.JSONDecoder()
_VALUE_END = frozenset(",}] \t\r\n")
_ARGS_DICT = re.compile(r'\{"gen_args_0": \{"arg_0": "')
_ARGS_LIST = re.compile(r'\[\[?"')


class SampleLine:
    """One JSONL line of an lm-eval samples file, decoded lazily.

    ``fields(metric)`` returns ``(filter, value, doc_hash, prompt, prompt_hash)``; ``record()``
    the full dict (``json.loads``; raises ``ValueError`` for malformed JSON).
    """

    __slots__ = ("text", "_record")

    def __init__(self, text: str) -> None:
        self.text = text
        self._record: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        if self._record is None:
            record = json.loads(self.text)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            self._record = record
        return self._record

    def fields(self, metric: str) -> tuple[Any, Any, Any, Any, Any] | None:
        """The five fields, read from the raw text; None when the line needs a full parse."""
        text = self.text.rstrip()
        if self._record is not None or not (text.startswith("{") and text.endswith("}")):
            return None
        found = self._value(text, metric, len(text))
        if found is None:
            return None
        value, metric_at = found
        found = self._value(text, "doc_hash", metric_at)
        if found is None or not isinstance(found[0], str):
            return None
        key, hash_at = found
        prompt_hash = self._value(text, "prompt_hash", metric_at)
        filt = self._value(text, "filter", hash_at)
        if filt is None:
            return None
        return filt[0], value, key, self._prompt(text, filt[1]), prompt_hash[0] if prompt_hash else None

    @staticmethod
    def _value(text: str, key: str, before: int) -> tuple[Any, int] | None:
        """The value of the last top-level-looking ``"key": `` before ``before``, and its position."""
        needle = f'"{key}": '
        at = text.rfind(needle, 0, before)
        while at > 0 and _escaped(text, at):
            at = text.rfind(needle, 0, at)
        if at <= 0 or text[at - 1] not in " {":
            return None
        start = at + len(needle)
        try:
            if text.startswith('"', start):
                value, end = scanstring(text, start + 1)
            else:
                value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            return None
        if end >= len(text) or text[end] not in _VALUE_END:
            return None
        return value, at

    @staticmethod
    def _prompt(text: str, before: int) -> str | None:
        """The first request's context (``arguments.gen_args_0.arg_0``, or ``arguments[0][0]``)."""
        at = text.rfind('"arguments": ', 0, before)
        if at <= 0 or _escaped(text, at):
            return None
        start = at + len('"arguments": ')
        match = _ARGS_DICT.match(text, start) or _ARGS_LIST.match(text, start)
        if match is None:
            return None
        try:
            return scanstring(text, match.end())[0]
        except ValueError:
            return None


def _escaped(text: str, at: int) -> bool:
    """Whether the quote at ``at`` is escaped (preceded by an odd number of backslashes)."""
    slashes = 0
    while at - slashes - 1 >= 0 and text[at - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1
