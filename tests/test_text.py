"""The one cleaning of outside text (retrieval.text), case by case."""

from __future__ import annotations

import pytest

from retrieval.text import storable_text


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("plain text, acentuação e emoji 😀", "plain text, acentuação e emoji 😀"),
        ("a\x00b", "ab"),  # NUL: PostgreSQL rejects it
        ("lone \ud800high and \udc00low", "lone high and low"),
        ("\ud83d\ude00", "😀"),  # a surrogate pair as two code points is the character
        ("one\r\ntwo\rthree\nfour\tfive", "one\ntwo\nthree\nfour\tfive"),
        ("page\x0cbreak\x0bvertical\x1fseparator\x85next", "page break vertical separator next"),
        ("bell\x07 escape\x1b[0m delete\x7f c1\x9b", "bell escape[0m delete c1"),
        ("\x00\x07\ud800", ""),
    ],
)
def test_storable_text(given: str, stored: str) -> None:
    assert storable_text(given) == stored
    assert storable_text(stored) == stored  # cleaning twice changes nothing more
    stored.encode("utf-8")  # every encoder takes it
