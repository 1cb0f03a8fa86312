"""Who is a TA on Slack: listed by user id, or a member of the course's user group."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.courses import Course

log = logging.getLogger(__name__)

TA_GROUP_TTL_S = 300.0


class TaCheck:
    """Answers "is this user a TA of this course?", caching each user group's members."""

    def __init__(self) -> None:
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def is_ta(self, client: AsyncWebClient, course: Course, user: str) -> bool:
        if user in course.slack.ta_user_ids:
            return True
        group = course.slack.ta_usergroup_id
        if not group:
            return False
        expires, members = self._groups.get(group, (0.0, frozenset()))
        if expires < time.monotonic():
            try:
                listed = await client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:
                log.warning("slack: cannot list usergroup %s: %s", group, exc.response.get("error"))
                return False  # fail closed: TA powers need a positive answer
            members = frozenset(listed.get("users") or [])
            self._groups[group] = (time.monotonic() + TA_GROUP_TTL_S, members)
        return user in members
