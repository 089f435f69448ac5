"""``hf lineage ...``: hub-lineage as an extension of huggingface_hub's ``hf`` command line.

``hf extensions install OWNER/hf-lineage`` installs this package into its own venv and records the
``hf-lineage`` console script (this module's :func:`main`) as the extension's executable; ``hf
lineage ARGS`` then runs it with ARGS. It is the same click group as ``hub-lineage``, only its
usage lines say ``hf lineage``.
"""

from __future__ import annotations

from typing import Any

from hub_lineage.cli.main import cli, run_command

#: How the extension is invoked (``hf`` runs ``hf-<name>``); shown in usage lines and errors.
PROG_NAME = "hf lineage"


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``hf-lineage`` console script."""
    return run_command(cli, argv, PROG_NAME)
