"""The review page's signed links: what a link grants, and every way one is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.errors import BotError
from bot.review_links import LinkRefused, ReviewLinks, review_path, review_secret
from tests.fakes.core import REVIEW_LINKS, make_service

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LINKS = ReviewLinks(
    secret=b"k" * 32, base_url="https://bot.example.org/", valid_for=timedelta(hours=12)
)
TA = "u_0123456789abcdef0123"


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def test_a_link_grants_its_ta_its_course_until_it_expires() -> None:
    issued = LINKS.link(TA, "ml", NOW)

    assert issued.url.startswith("https://bot.example.org/review/ml?t=")
    assert issued.expires_at == NOW + timedelta(hours=12)
    access = LINKS.check(token_of(issued.url), "ml", NOW + timedelta(hours=11, minutes=59))
    assert (access.ta_ref, access.course_id, access.expires_at) == (TA, "ml", issued.expires_at)


def test_an_expired_link_is_refused() -> None:
    token = token_of(LINKS.link(TA, "ml", NOW).url)
    with pytest.raises(LinkRefused, match="expired"):
        LINKS.check(token, "ml", NOW + timedelta(hours=12))


def test_a_link_for_another_course_is_refused() -> None:
    token = token_of(LINKS.link(TA, "ml", NOW).url)
    with pytest.raises(LinkRefused, match="not signed for course 'bio'"):
        LINKS.check(token, "bio", NOW)


@pytest.mark.parametrize("part", ["ta", "expires", "signature"])
def test_a_link_altered_in_any_part_is_refused(part: str) -> None:
    ta, expires, signature = token_of(LINKS.link(TA, "ml", NOW).url).split(".")
    altered = {
        "ta": f"u_ffffffffffffffffffff.{expires}.{signature}",
        "expires": f"{ta}.{int(expires) + 86400}.{signature}",
        "signature": f"{ta}.{expires}.{signature[:-2]}AA",
    }[part]
    with pytest.raises(LinkRefused, match="forged or altered"):
        LINKS.check(altered, "ml", NOW)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    forged = ReviewLinks(secret=b"guessed", base_url="https://bot.example.org")
    token = token_of(forged.link(TA, "ml", NOW).url)
    with pytest.raises(LinkRefused, match="forged"):
        LINKS.check(token, "ml", NOW)


@pytest.mark.parametrize("token", ["", "abc", f"{TA}.1.x", "a.b.c.d", "<script>.1." + "a" * 43])
def test_no_token_or_a_malformed_one_is_refused(token: str) -> None:
    with pytest.raises(LinkRefused, match="not a review link"):
        LINKS.check(token, "ml", NOW)


def test_the_secret_defaults_to_one_derived_from_the_pseudonym_secret() -> None:
    derived = review_secret("", "pseudonym-secret")
    assert derived != b"pseudonym-secret" and len(derived) == 32
    assert review_secret("", "pseudonym-secret") == derived
    assert review_secret("own", "pseudonym-secret") == b"own"
    with pytest.raises(ValueError, match="REVIEW_SECRET or PSEUDONYM_SECRET"):
        review_secret("", "")


def test_no_link_without_a_base_url_and_course_ids_are_quoted() -> None:
    with pytest.raises(ValueError, match="REVIEW_BASE_URL"):
        ReviewLinks(secret=b"k", base_url="").link(TA, "ml", NOW)
    assert review_path("ml 2026/b") == "/review/ml%202026%2Fb"


def test_the_service_signs_a_link_for_the_tas_pseudonym_or_says_what_to_set(
    tmp_path: Path,
) -> None:
    service = make_service(tmp_path, clock=lambda: NOW)
    try:
        issued = service.review_link("ml", "slack", "UTA")
        access = service.review_access(token_of(issued.url), "ml")
        assert access.ta_ref == service.pseudonym("slack", "UTA") and "UTA" not in issued.url
        assert issued.url.startswith(f"{REVIEW_LINKS.base_url}/review/ml?t=")

        service.review_links = replace(REVIEW_LINKS, base_url="")
        with pytest.raises(BotError, match="defina REVIEW_BASE_URL"):
            service.review_link("ml", "slack", "UTA")
    finally:
        service.store.close()  # type: ignore[attr-defined]
