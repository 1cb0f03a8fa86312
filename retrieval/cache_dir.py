"""Where retrieval keeps what it can rebuild: eval indexes, vector caches, the built encoder."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "course-assistant"
