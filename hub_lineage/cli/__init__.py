"""The `hub-lineage` command line: the click group (main.py), shared options, one module per command.

``hub_lineage.cli:main`` is the console script's entry point.
"""

from hub_lineage.cli.main import cli, main, run_command

__all__ = ["cli", "main", "run_command"]
