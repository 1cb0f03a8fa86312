"""Which failures the TAs hear of, and when.

An outage fails every question alike: with the index or the model down in exam week, one
alert per question would bury the TA channel while telling nothing new. The TAs hear of the
first failure of a kind in a course at once, then of that kind at most once per quiet period,
that alert saying how many were held back since the last one. Each held-back failure is still
logged and kept in its row; only the TA channel is spared. The state is the process's own
(a Discord and a Slack process each alert once), so a restart alerts again at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

QUIET_PERIOD = timedelta(minutes=10)


@dataclass
class _Told:
    at: datetime
    held_back: int = 0


class TaAlerts:
    def __init__(
        self, clock: Callable[[], datetime], quiet_period: timedelta = QUIET_PERIOD
    ) -> None:
        self._clock = clock
        self._quiet_period = quiet_period
        self._told: dict[tuple[str, str], _Told] = {}

    def pass_on(self, course_id: str, kind: str, alert: str) -> str:
        """``alert`` as the TAs should read it now, or "" when they heard of a failure of
        this ``kind`` in this course less than a quiet period ago (it is counted)."""
        if not alert:
            return ""
        now, key = self._clock(), (course_id, kind)
        told = self._told.get(key)
        if told is not None and now - told.at < self._quiet_period:
            told.held_back += 1
            return ""
        self._told[key] = _Told(now)
        if told is None or not told.held_back:
            return alert
        since = told.at.strftime("%H:%M")
        held_back = f"e mais {told.held_back} falha(s) deste tipo desde o aviso das {since} UTC"
        return f"{alert} ({held_back})"
