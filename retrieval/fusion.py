"""Rank fusion: pure functions that merge ranked lists of ids into one.

Reciprocal Rank Fusion (Cormack et al., 2009) scores an id by ``sum(w / (k + rank))`` over
the lists it appears in. It needs no score calibration, which is why it suits dense cosines
and BM25 scores that live on different scales.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: int = DEFAULT_RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """``(id, fused score)`` best first. Ranks are 1-based positions in each list.

    Ties keep the order in which ids were first met (list by list), so the result is
    deterministic. A repeated id within one list counts at its best (first) rank only.
    """
    if k < 0:
        raise ValueError(f"rrf k must be >= 0, got {k}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for position, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + position)
    first_met = {item: order for order, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], first_met[pair[0]]))
