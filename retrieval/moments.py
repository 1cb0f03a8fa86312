"""Distinct moments: retrieved windows of one video that overlap or touch become one moment.

Segments are cut as overlapping windows, so the passage that answers a question is often
retrieved two or three times, in windows a minute or two apart. Given to Claude or shown to a
student, those copies fill slots with the same words. Merging them (their union, never longer
than ``max_span_s``) makes each slot a different place in the lectures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retrieval.models import Hit, Segment

# About the longest stretch a student follows from one citation.
MAX_MOMENT_S = 240.0
# Windows whose ends are this close count as adjacent: cue times are rounded to the
# millisecond and captions leave small gaps between lines.
ADJACENT_S = 1.0


def distinct_moments(hits: Sequence[Hit], max_span_s: float = MAX_MOMENT_S) -> list[Hit]:
    """``hits`` with each overlapping or adjacent pair of one video's windows merged, as
    long as the union stays within ``max_span_s``. A moment keeps the best rank and score of
    its windows; the result is in rank order and ranked 1, 2, 3, …"""
    moments: list[Hit] = []
    for hit in sorted(hits, key=lambda h: h.rank):
        for position, moment in enumerate(moments):
            if _joinable(moment.segment, hit.segment, max_span_s):
                moments[position] = _join(moment, hit)
                break
        else:
            moments.append(hit)
    return [replace(moment, rank=rank) for rank, moment in enumerate(moments, start=1)]


def _joinable(a: Segment, b: Segment, max_span_s: float) -> bool:
    if a.video_id != b.video_id or a.course_id != b.course_id:
        return False
    touching = b.start_s <= a.end_s + ADJACENT_S and a.start_s <= b.end_s + ADJACENT_S
    return touching and max(a.end_s, b.end_s) - min(a.start_s, b.start_s) <= max_span_s


def _join(moment: Hit, hit: Hit) -> Hit:
    """``moment`` (the better ranked) grown by ``hit``'s window."""
    first, second = sorted((moment.segment, hit.segment), key=lambda s: (s.start_s, s.end_s))
    start_s, end_s = first.start_s, max(first.end_s, second.end_s)
    segment = replace(
        moment.segment,
        id=f"{first.video_id}@{round(start_s * 1000)}-{round(end_s * 1000)}",
        start_s=start_s,
        end_s=end_s,
        text=_union_text(first, second),
    )
    scores = [s for s in (moment.dense_score, hit.dense_score) if s is not None]
    return replace(
        moment,
        segment=segment,
        score=max(moment.score, hit.score),
        dense_score=max(scores) if scores else None,
    )


def _union_text(first: Segment, second: Segment) -> str:
    """The words of both windows once each. Windows are runs of whole cues, so where they
    overlap the later one begins with a stretch that ends the earlier one."""
    if second.end_s <= first.end_s and second.text in first.text:
        return first.text  # the second lies inside the first
    overlap = _longest_suffix_prefix(first.text, second.text)
    if overlap:
        return first.text + second.text[overlap:]
    return f"{first.text} {second.text}".strip()


def _longest_suffix_prefix(left: str, right: str) -> int:
    """The length of the longest end of ``left`` that starts ``right``, on a word boundary."""
    for start in range(len(left)):
        if (start == 0 or left[start - 1] == " ") and right.startswith(left[start:]):
            return len(left) - start
    return 0
