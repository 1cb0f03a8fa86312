"""Sentence boundaries in Portuguese and English lecture text. Pure."""

from __future__ import annotations

from bot.sentences import sentence_spans


def sentences(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[start:end]) for start, end in sentence_spans(words)]


def test_portuguese_abbreviations_decimals_and_ellipses() -> None:
    text = (
        "O Dr. Silva mostrou que 0,5 é o limiar. Depois... a gente viu a fig. 2, p. ex. no "
        "cap. 3 etc. e tal. Por quê? porque sim! A Profa. Ana usa 3.14… Vejam a Sra. Lima."
    )
    assert sentences(text) == [
        "O Dr. Silva mostrou que 0,5 é o limiar.",
        "Depois... a gente viu a fig. 2, p. ex. no cap. 3 etc. e tal.",
        "Por quê?",
        "porque sim!",
        "A Profa. Ana usa 3.14…",
        "Vejam a Sra. Lima.",
    ]


def test_english_abbreviations_initials_and_quotes() -> None:
    text = (
        "Mr. Smith used dropout, e.g. at a 0.5 rate. It works... sometimes. Does it? Yes! "
        'See Fig. 3 in the U.S. paper by J. Doe. "Great." (Really.) Done'
    )
    assert sentences(text) == [
        "Mr. Smith used dropout, e.g. at a 0.5 rate.",
        "It works... sometimes.",
        "Does it?",
        "Yes!",
        "See Fig. 3 in the U.S. paper by J. Doe.",
        '"Great."',
        "(Really.)",
        "Done",
    ]


def test_a_number_may_open_a_sentence_and_an_unpunctuated_text_is_one() -> None:
    assert sentences("São 64 filtros. 128 na camada seguinte.") == [
        "São 64 filtros.",
        "128 na camada seguinte.",
    ]
    assert sentences("vou dobrando né 64 128 256 tá e aí o bottleneck") == [
        "vou dobrando né 64 128 256 tá e aí o bottleneck"
    ]
    assert sentences("") == []
