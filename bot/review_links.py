"""Signed, expiring links to the review page: the only way in, with no accounts.

A link is ``{base}/review/{course}?t={ta}.{expires}.{signature}``, the signature an HMAC-SHA256
over (TA pseudonym, course, expiry) under the review secret. Whoever holds a link reads and
grades that course until it expires; a forged, altered, expired or other-course link is
refused. Only a pseudonym travels in it, never a platform id. Pure: the clock is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bot.pseudonym import is_pseudonym

_PSEUDONYM = r"u_[0-9a-f]{20}"  # as bot.pseudonym makes them
_TOKEN = re.compile(
    rf"^(?P<ta>{_PSEUDONYM})\.(?P<expires>\d{{1,12}})\.(?P<sig>[A-Za-z0-9_-]{{43}})$"
)


class LinkRefused(Exception):
    """The link grants nothing; the message says why, for the log only (the page says 403)."""


@dataclass(frozen=True)
class ReviewAccess:
    """What a valid link grants: this TA reviews this course until ``expires_at``."""

    ta_ref: str
    course_id: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


def review_secret(review_secret: str, pseudonym_secret: str) -> bytes:
    """REVIEW_SECRET, else a key derived from PSEUDONYM_SECRET (never the same key for two
    purposes, so a link's signature says nothing about a pseudonym)."""
    if review_secret:
        return review_secret.encode()
    if not pseudonym_secret:
        raise ValueError("review links need REVIEW_SECRET or PSEUDONYM_SECRET")
    return hmac.new(pseudonym_secret.encode(), b"review-links", hashlib.sha256).digest()


def review_path(course_id: str) -> str:
    return f"/review/{quote(course_id, safe='')}"


@dataclass(frozen=True)
class ReviewLinks:
    secret: bytes
    base_url: str  # the public address of the server that serves the page; "" = none
    valid_for: timedelta = timedelta(hours=12)

    def link(self, ta_ref: str, course_id: str, now: datetime) -> IssuedLink:
        """The address a TA is sent; ``base_url`` must be set."""
        if not self.base_url:
            raise ValueError("review links need REVIEW_BASE_URL")
        expires_at = now + self.valid_for
        token = self.token(ta_ref, course_id, expires_at)
        url = f"{self.base_url.rstrip('/')}{review_path(course_id)}?t={token}"
        return IssuedLink(url, expires_at)

    def token(self, ta_ref: str, course_id: str, expires_at: datetime) -> str:
        if not is_pseudonym(ta_ref):
            raise ValueError(f"not a pseudonym: {ta_ref!r}")
        expires = int(expires_at.timestamp())
        return f"{ta_ref}.{expires}.{self._signature(ta_ref, course_id, expires)}"

    def check(self, token: str, course_id: str, now: datetime) -> ReviewAccess:
        """What ``token`` grants on ``course_id``'s page at ``now``; ``LinkRefused`` if nothing."""
        parsed = _TOKEN.match(token or "")
        if parsed is None:
            raise LinkRefused("no link, or not a review link")
        ta, expires = parsed["ta"], int(parsed["expires"])
        expected = self._signature(ta, course_id, expires)
        if not hmac.compare_digest(expected, parsed["sig"]):
            raise LinkRefused(f"a link not signed for course {course_id!r} (forged or altered)")
        expires_at = datetime.fromtimestamp(expires, UTC)
        if now >= expires_at:
            raise LinkRefused(f"a link that expired at {expires_at:%Y-%m-%d %H:%M} UTC")
        return ReviewAccess(ta_ref=ta, course_id=course_id, expires_at=expires_at)

    def _signature(self, ta_ref: str, course_id: str, expires: int) -> str:
        # Each part is length-prefixed, so no two different triples sign the same bytes.
        message = "".join(f"{len(p)}:{p}" for p in (ta_ref, course_id, str(expires)))
        digest = hmac.new(self.secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
