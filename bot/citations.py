"""Deep links and labels for lecture moments. Pure functions: every adapter and the
report render citations through these, so a timestamp reads the same everywhere."""

from __future__ import annotations

from bot.models import Citation, Segment
from retrieval.links import deep_link, format_clock

__all__ = [
    "citation_for",
    "citation_label",
    "dedupe",
    "deep_link",
    "format_clock",
    "format_hms",
    "format_span",
]


def format_hms(seconds: float) -> str:
    """``00:12:01``: the report's Início/Fim form."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def format_span(start_s: float, end_s: float) -> str:
    return f"{format_clock(start_s)}–{format_clock(end_s)}"


def citation_label(citation: Citation) -> str:
    """``Aula 3 · 12:01–14:48``."""
    return f"{citation.title} · {format_span(citation.start_s, citation.end_s)}"


def citation_for(segment: Segment) -> Citation:
    return Citation(
        segment_id=segment.id,
        video_id=segment.video_id,
        title=segment.title,
        start_s=segment.start_s,
        end_s=segment.end_s,
        url=deep_link(segment.url, segment.start_s),
    )


def dedupe(citations: list[Citation]) -> tuple[Citation, ...]:
    """Keep the first citation of each segment, in order of first mention."""
    seen: set[str] = set()
    kept = []
    for citation in citations:
        if citation.segment_id not in seen:
            seen.add(citation.segment_id)
            kept.append(citation)
    return tuple(kept)
