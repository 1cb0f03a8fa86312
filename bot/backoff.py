"""Doubling waits, capped: how long to wait before trying again after a run of failures."""

from __future__ import annotations

from datetime import timedelta


def backoff_delay(attempts: int, base_s: float = 30.0, cap_s: float = 3600.0) -> timedelta:
    """The wait after ``attempts`` failed tries: ``base_s``, then doubling, at most ``cap_s``."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))
