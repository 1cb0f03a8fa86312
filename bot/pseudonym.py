"""Askers are stored as pseudonyms: an HMAC of platform and user id under a secret, so
the log can count and link a student's questions without holding who they are."""

from __future__ import annotations

import hashlib
import hmac
import re

_PSEUDONYM = re.compile(r"u_[0-9a-f]{20}")


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
