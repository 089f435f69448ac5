"""Click commands of the `hub-lineage` CLI, one module per command (see cli.py)."""
