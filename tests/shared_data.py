"""Where the project's real data lives: ../shared/data beside the checkout, or HUB_LINEAGE_DATA."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get("HUB_LINEAGE_DATA")
                   or Path(__file__).resolve().parents[1] / ".." / "shared" / "data")


def family_contents(dest: Path, shared_data: Path = SHARED_DATA, family: str = "Qwen2.5-7B", n: int = 60
                    ) -> tuple[Path, list[dict[str, str]]]:
    """A real slice of the leaderboard contents: the first ``n`` rows of ``family``, written to
    ``dest/contents.csv``; (that file, its rows)."""
    import csv

    src = shared_data / "open_llm_leaderboard_contents_2025-02-08.csv"
    with src.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if family in (r.get("Base Model") or "")][:n]
        header = reader.fieldnames
    small = dest / "contents.csv"
    with small.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return small, rows
