"""lm-evaluation-harness side of hub-lineage: sample logs -> observations; a live tracker hook."""
