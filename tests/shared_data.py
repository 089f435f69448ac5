"""Where the project's real data lives: ../shared/data beside the checkout, or HUB_LINEAGE_DATA."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get("HUB_LINEAGE_DATA")
                   or Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
