"""Askers are stored as pseudonyms: an HMAC of platform and user id under a secret, so
the log can count and link a student's questions without holding who they are. So are the
users a question mentions, and the ids of direct-message channels (which name a person)."""

from __future__ import annotations

import hashlib
import hmac
import re

_PSEUDONYM = re.compile(r"u_[0-9a-f]{20}")
# A user mention as the platforms write it: Discord ``<@5003>``/``<@!5003>``, Slack
# ``<@U999>``/``<@U999|name>`` (the display name goes too). Role and group mentions name no
# one and stay.
_USER_MENTION = re.compile(r"<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>")


def pseudonymise(secret: str, platform: str, user_id: str) -> str:
    if not secret:
        raise ValueError("a pseudonym needs a secret (PSEUDONYM_SECRET)")
    if not user_id:
        return ""
    digest = hmac.new(secret.encode(), f"{platform}:{user_id}".encode(), hashlib.sha256)
    return "u_" + digest.hexdigest()[:20]


def is_pseudonym(ref: str) -> bool:
    """Whether ``ref`` has the shape ``pseudonymise`` gives, so no raw id is stored by mistake."""
    return _PSEUDONYM.fullmatch(ref) is not None


def pseudonymise_mentions(secret: str, platform: str, text: str) -> str:
    """``text`` with each user mention replaced by ``@`` and the user's pseudonym (the same
    one their own questions are stored under)."""
    return _USER_MENTION.sub(lambda m: "@" + pseudonymise(secret, platform, m.group(1)), text)


def pseudonymise_channel(secret: str, platform: str, channel_id: str) -> str:
    """A direct-message channel's id as it is stored: ``c_`` and an HMAC, never the id."""
    return "c_" + pseudonymise(secret, f"{platform}-channel", channel_id).removeprefix("u_")
