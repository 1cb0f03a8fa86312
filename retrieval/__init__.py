"""Lecture-transcript retrieval: ingest course folders into LanceDB and search them.

Imports nothing from ``bot``. The main names are loaded lazily, so importing
``retrieval.models`` does not load LanceDB or an embedding model.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IngestReport": "retrieval.ingest",
    "ingest_course": "retrieval.ingest",
    "RetrievalSettings": "retrieval.settings",
    "Retriever": "retrieval.search",
    "SearchResult": "retrieval.models",
    "SegmentIndex": "retrieval.index",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
