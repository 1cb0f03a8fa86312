"""Which course a Slack question or TA command belongs to (pure decisions)."""

from __future__ import annotations

from bot.adapters.common import sole_course
from bot.courses import Course, Courses


def dm_course(courses: Courses) -> Course | None:
    """A DM can be answered only when the workspace has exactly one course."""
    return sole_course(courses.with_slack_channels())


def command_course(courses: Courses, channel: str, text: str) -> Course | None:
    """The course a TA command is about: named in its text, else the channel's (course or
    TA channel), else the workspace's only course."""
    named = text.split()[0] if text.split() else ""
    if named:
        return next((c for c in courses if c.id == named), None)
    by_channel = courses.for_slack(channel) or next(
        (c for c in courses if c.slack.ta_channel_id == channel), None
    )
    return by_channel or dm_course(courses)


def slack_channels(courses: Courses) -> list[str]:
    return [ch for course in courses.with_slack_channels() for ch in course.slack.channel_ids]
