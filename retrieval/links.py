"""Deep links and clock labels for lecture moments: pure, shared by the retrieval CLI and the
bot (``bot.citations``), so a timestamp reads the same everywhere."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_YOUTUBE_HOSTS = {"youtu.be", "youtube.com", "www.youtube.com", "m.youtube.com"}


def deep_link(url: str, start_s: float) -> str:
    """The video URL opened at ``start_s`` (whole seconds, rounded down so the student
    lands just before the moment rather than after it).

    YouTube takes ``?t=721``; other hosts get the Media Fragments form ``#t=721``.
    An existing ``t`` is replaced, other query parameters are kept.
    """
    if not url:
        return ""
    second = max(0, int(start_s))
    parts = urlsplit(url)
    if parts.hostname in _YOUTUBE_HOSTS:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", str(second)))
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    return urlunsplit(parts._replace(fragment=f"t={second}"))


def format_clock(seconds: float) -> str:
    """``12:01`` below an hour, ``1:27:34`` from an hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
