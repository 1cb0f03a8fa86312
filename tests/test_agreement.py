"""Agreement between manual (👍/👎) and automated (judge) annotations, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.agreement import Confusion, agreement, annotation_pairs, cohen_kappa, confusion_of
from bot.annotations import Label
from bot.models import Judgement, Vote
from tests.fakes.values import interaction

T0 = datetime(2025, 3, 10, 12, tzinfo=UTC)


def pairs_from(counts: dict[tuple[Label, Label], int]) -> list[tuple[Label, Label]]:
    return [pair for pair, n in counts.items() for _ in range(n)]


def test_textbook_example_kappa_is_0_4() -> None:
    # Wikipedia's "Cohen's kappa" worked example: 50 proposals read by two readers,
    # both yes 20, A yes/B no 5, A no/B yes 10, both no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    pairs = pairs_from({("C", "C"): 20, ("C", "I"): 5, ("I", "C"): 10, ("I", "I"): 15})
    result = agreement(pairs)
    assert result is not None
    assert result.n == 50
    assert result.accuracy == pytest.approx(0.7)
    assert result.kappa == pytest.approx(0.4)
    assert result.confusion == Confusion(cc=20, ci=5, ic=10, ii=15)
    assert result.confusion.count("I", "C") == 10


def test_second_hand_checked_example() -> None:
    # cc=45 ci=15 ic=25 ii=15 (n=100): p_o = 0.60; manual C 0.60, automated C 0.70;
    # p_e = 0.6*0.7 + 0.4*0.3 = 0.54; kappa = 0.06/0.46 = 0.1304...
    kappa = cohen_kappa(Confusion(cc=45, ci=15, ic=25, ii=15))
    assert kappa == pytest.approx(0.06 / 0.46)


def test_systematic_disagreement_is_negative() -> None:
    result = agreement([("C", "I"), ("I", "C")])
    assert result is not None
    assert result.accuracy == 0.0
    assert result.kappa == pytest.approx(-1.0)


def test_all_one_class_and_agreeing_is_defined_as_one() -> None:
    result = agreement([("C", "C")] * 4)
    assert result is not None
    assert (result.accuracy, result.kappa) == (1.0, 1.0)


def test_one_rater_constant_other_not_gives_zero() -> None:
    # Manual always C, automated mixed: p_e = p_o, so kappa is 0 by the formula itself.
    result = agreement([("C", "C"), ("C", "I")])
    assert result is not None
    assert result.accuracy == 0.5
    assert result.kappa == 0.0


def test_only_pairs_with_both_annotations_count() -> None:
    result = agreement([("C", None), (None, "I"), (None, None), ("I", "I")])
    assert result is not None
    assert result.n == 1
    assert agreement([("C", None)]) is None


def test_rejects_unknown_labels() -> None:
    with pytest.raises(ValueError, match="'C' or 'I'"):
        confusion_of([("C", "X")])  # type: ignore[list-item]


def test_annotation_pairs_use_votes_and_pass_score() -> None:
    interactions = [interaction(i, T0) for i in ("a", "b", "c")]
    votes = {
        "a": [Vote("a", "u1", 1, T0), Vote("a", "u2", -1, T0 + timedelta(seconds=1))],  # tie
        "b": [Vote("b", "u1", -1, T0), Vote("b", "ta", 1, T0, is_ta=True)],  # TA decides: C
    }
    judgements = {
        "a": Judgement("a", 3, "c", "e"),
        "b": Judgement("b", 1, "c", "e"),
        "c": Judgement("c", 2, "c", "e"),
    }
    assert annotation_pairs(interactions, votes, judgements, pass_score=2) == [
        (None, "C"),
        ("C", "I"),
        (None, "C"),
    ]
    assert annotation_pairs(interactions, votes, judgements, pass_score=3)[2] == (None, "I")
