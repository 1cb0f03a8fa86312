from __future__ import annotations

import pytest

from bot.citations import (
    citation_for,
    citation_label,
    dedupe,
    deep_link,
    format_clock,
    format_hms,
    format_span,
)
from bot.models import Segment


@pytest.mark.parametrize(
    ("url", "start", "expected"),
    [
        ("https://youtu.be/abcdefghijk", 721.9, "https://youtu.be/abcdefghijk?t=721"),
        ("https://www.youtube.com/watch?v=abc&t=5", 60, "https://www.youtube.com/watch?v=abc&t=60"),
        ("https://example.org/v.mp4", 12.5, "https://example.org/v.mp4#t=12"),
        ("https://example.org/v.mp4#t=3", 0, "https://example.org/v.mp4#t=0"),
        ("", 10, ""),
    ],
)
def test_deep_link_opens_the_video_at_the_second(url: str, start: float, expected: str) -> None:
    assert deep_link(url, start) == expected


def test_clock_formats() -> None:
    assert format_clock(721) == "12:01"
    assert format_clock(5374) == "1:29:34"
    assert format_hms(721) == "00:12:01"
    assert format_span(721, 888) == "12:01–14:48"


def test_label_and_citation_from_segment() -> None:
    seg = Segment("7961", "c", "vid", "Aula 3", "https://youtu.be/abcdefghijk", 721, 888, "t")
    citation = citation_for(seg)
    assert citation.url == "https://youtu.be/abcdefghijk?t=721"
    assert citation_label(citation) == "Aula 3 · 12:01–14:48"
    assert dedupe([citation, citation]) == (citation,)
