"""Progress bars for the long steps (fit, calibration, evaluate) through ``huggingface_hub.utils.tqdm``.

huggingface_hub's tqdm honours ``HF_HUB_DISABLE_PROGRESS_BARS=1``; ``disable=None`` also hides the
bar when stderr is not a terminal, so logs and pipes stay clean. The library reports progress as
messages (``progress=callable(str)``); :class:`StepBar` turns each message into one step.
"""

from __future__ import annotations

from typing import Any


def waiting(what: str) -> None:
    """One stderr line before a step that waits on the network, on a terminal or not (a stalled
    log should say what it waits for; the bars above hide themselves off a terminal)."""
    import click

    click.echo(f"{what} ...", err=True)


class StepBar:
    """A bar of ``total`` steps advanced by each progress message, which it shows as its postfix."""

    def __init__(self, total: int, desc: str, *, disable: bool | None = None) -> None:
        from huggingface_hub.utils import tqdm

        self.bar: Any = tqdm(total=total, desc=desc, unit="step", disable=disable, leave=False)
        self._started = False

    def __call__(self, message: str) -> None:
        # a message announces a step: the previous one is done
        if self._started:
            self.bar.update(1)
        self._started = True
        self.bar.set_postfix_str(message[:60], refresh=True)

    def close(self) -> None:
        if self._started:
            self.bar.update(1)
        self.bar.close()

    def __enter__(self) -> StepBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
