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
        "Mr. Smith used tricks, e.g. Dropout at a 0.5 rate. It works... sometimes. Does it? Yes! "
        'See Fig. 3 of the U.S. Army paper. "Great." (Really.) Done'
    )
    assert sentences(text) == [
        "Mr. Smith used tricks, e.g. Dropout at a 0.5 rate.",
        "It works... sometimes.",
        "Does it?",
        "Yes!",
        "See Fig. 3 of the U.S. Army paper.",
        '"Great."',
        "(Really.)",
        "Done",
    ]


def test_a_lone_capital_ends_a_sentence() -> None:
    # From the demo's U-Net lecture: a letter naming a shape, not a name's initial.
    assert sentences("ela tem formato de U. O lado esquerdo do U é o encoder.") == [
        "ela tem formato de U.",
        "O lado esquerdo do U é o encoder.",
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
