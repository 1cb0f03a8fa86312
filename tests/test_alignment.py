"""The judge against TA grades on a fixed log: every figure computed by hand in the comments."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.alignment import (
    alignment_lines,
    average_ranks,
    judge_alignment,
    proposed_for_grading,
    score_matrix,
    spearman,
    weighted_kappa,
)
from bot.models import Judgement, Label, TAGrade
from tests.fakes.values import interaction

T0 = datetime(2025, 3, 10, 12, tzinfo=UTC)
TA = "u_0123456789abcdef0123"


def grade(interaction_id: str, label: Label, ar: int | None = None, note: str = "") -> TAGrade:
    return TAGrade(interaction_id, TA, label, T0, ar, note)


def judged(interaction_id: str, score: int) -> Judgement:
    return Judgement(interaction_id, score, f"critério {interaction_id}", f"evidência {score}")


# (TA label, TA AR grade, judge score) of the graded answers; f has no judgement; p.. none.
GRADED = {
    "a": ("C", 3, 3),  # agree
    "b": ("C", 2, 3),  # both C; one point apart
    "c": ("I", 0, 0),  # agree
    "d": ("I", 1, 3),  # opposite verdicts, two points apart
    "e": ("C", None, 1),  # opposite verdicts: judge 1 is one point below the pass score 2
}
UNGRADED = {"p0": 0, "q3a": 3, "q3b": 3, "q3c": 3, "r2": 2}


def fixed_log():  # type: ignore[no-untyped-def]
    ids = [*GRADED, "f", *UNGRADED]
    interactions = [interaction(i, T0 + timedelta(minutes=n)) for n, i in enumerate(ids)]
    judgements = {i: judged(i, score) for i, (_, _, score) in GRADED.items()}
    judgements |= {i: judged(i, score) for i, score in UNGRADED.items()}
    grades = {i: [grade(i, label, ar, f"nota {i}")] for i, (label, ar, _) in GRADED.items()}
    grades["f"] = [grade("f", "I")]
    # An earlier grade of "a" that the later one replaces: only the latest counts.
    grades["a"].insert(0, replace(grade("a", "I", 0), at=T0 - timedelta(hours=1)))
    return interactions, judgements, grades


def test_binary_figures_at_the_pass_score() -> None:
    alignment = judge_alignment(*fixed_log(), pass_score=2)

    assert alignment.graded == 6  # a-e and f (f has no judge score)
    binary = alignment.binary
    assert binary is not None and binary.n == 5
    # (TA, judge): a CC, b CC, c II, d IC, e CI -> cc 2, ci 1, ic 1, ii 1.
    confusion = binary.confusion
    assert (confusion.cc, confusion.ci, confusion.ic, confusion.ii) == (2, 1, 1, 1)
    # p_o = 3/5; both say C 3/5 of the time: p_e = .36 + .16 = .52; kappa = .08 / .48 = 1/6.
    assert binary.accuracy == pytest.approx(0.6)
    assert binary.kappa == pytest.approx(1 / 6)


def test_figures_over_zero_to_three() -> None:
    alignment = judge_alignment(*fixed_log(), pass_score=2)

    # (TA grade, judge score): a (3, 3), b (2, 3), c (0, 0), d (1, 3); e has no TA grade.
    assert alignment.scored == 4
    assert alignment.matrix == ((1, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 1))
    # Weights (i - j)^2. Observed: (1-3)^2 + (2-3)^2 = 5. Rows 1,1,1,1; columns 1,0,0,3:
    # expected = (1/4)(1 * (0+1+4+9) + 3 * (9+4+1+0)) = 14; kappa = 1 - 5/14 = 9/14.
    assert alignment.weighted_kappa == pytest.approx(9 / 14)
    # Ranks: TA (3,2,0,1) -> (4,3,1,2); judge (3,3,0,3) -> (3,3,1,3).
    # Deviations (1.5,.5,-1.5,-.5) and (.5,.5,-1.5,.5): 3 / sqrt(5 * 3).
    assert alignment.spearman == pytest.approx(3 / math.sqrt(15))


def test_worst_disagreements_put_opposite_verdicts_first_with_both_reasonings() -> None:
    alignment = judge_alignment(*fixed_log(), pass_score=2)

    assert [(w.interaction_id, w.gap) for w in alignment.worst] == [("d", 2), ("e", 1), ("b", 1)]
    worst = alignment.worst[0]
    assert worst.judge_reasoning == "Criteria: critério d Supporting Evidence: evidência 3 Score: 3"
    assert (worst.ta_label, worst.ta_ar_grade, worst.ta_note) == ("I", 1, "nota d")
    assert len(judge_alignment(*fixed_log(), pass_score=2, max_worst=1).worst) == 1


def test_ungraded_answers_are_proposed_one_of_each_judge_score_in_turn() -> None:
    alignment = judge_alignment(*fixed_log(), pass_score=2)  # up to 10: all five

    assert [p.judge_score for p in alignment.proposed] == [0, 2, 3, 3, 3]
    assert {p.interaction_id for p in alignment.proposed} == set(UNGRADED)
    interactions, judgements, grades = fixed_log()
    three = judge_alignment(interactions, judgements, grades, 2, max_proposed=3).proposed
    assert [p.judge_score for p in three] == [0, 2, 3]  # not three 3s, though 3s are most


def test_the_proposals_are_deterministic_for_a_seed_and_vary_with_it() -> None:
    interactions, judgements, _ = fixed_log()
    ungraded = [i for i in interactions if i.id in UNGRADED]

    def order(seed: int) -> list[str]:
        return [p.interaction_id for p in proposed_for_grading(ungraded, judgements, 5, seed)]

    assert order(7) == order(7)
    assert len({tuple(order(seed)) for seed in range(10)}) > 1  # the 3s come in other orders


def test_no_grades_no_figures() -> None:
    interactions, judgements, _ = fixed_log()
    alignment = judge_alignment(interactions, judgements, {}, pass_score=2)

    assert (alignment.graded, alignment.binary, alignment.scored) == (0, None, 0)
    assert (alignment.weighted_kappa, alignment.spearman, alignment.worst) == (None, None, ())
    assert alignment_lines(alignment)[0] == "Nenhuma resposta avaliada por monitores ainda."


def test_alignment_as_lines() -> None:
    lines = alignment_lines(judge_alignment(*fixed_log(), pass_score=2), text_chars=20)

    assert lines[:8] == (
        "Respostas avaliadas por monitores: 6",
        "C/I com o juiz (C a partir de 2/3), em 5: acurácia 0.60 · kappa de Cohen 0.17",
        "Monitor C / juiz C: 2 · monitor C / juiz I: 1 · monitor I / juiz C: 1 · "
        "monitor I / juiz I: 1",
        "Notas 0–3, em 4: kappa ponderado (quadrático) 0.64 · Spearman 0.77",
        "Monitor 0 → juiz 0: 1 · 1: 0 · 2: 0 · 3: 0",
        "Monitor 1 → juiz 0: 0 · 1: 0 · 2: 0 · 3: 1",
        "Monitor 2 → juiz 0: 0 · 1: 0 · 2: 0 · 3: 1",
        "Monitor 3 → juiz 0: 0 · 1: 0 · 2: 0 · 3: 1",
    )
    assert lines[8:11] == (
        "Divergência: “pergunta d” — juiz 3/3, monitor I, nota 1 (id d)",
        "Raciocínio do juiz: Criteria: critério…",
        "Nota do monitor: nota d",
    )
    assert lines[-1].startswith("Propostas para avaliar (uma de cada nota do juiz por vez): ")


# -- the statistics on their own --------------------------------------------------------------


def test_weighted_kappa_by_hand() -> None:
    # (0,0), (1,1), (2,3), (3,3): observed 1; rows 1,1,1,1, columns 1,1,0,2:
    # expected = (1/4)(14 + 6 + 2 * 14) = 12; kappa = 1 - 1/12.
    matrix = score_matrix([(0, 0), (1, 1), (2, 3), (3, 3)])
    assert weighted_kappa(matrix) == pytest.approx(11 / 12)
    assert weighted_kappa(score_matrix([(0, 3), (3, 0)])) == pytest.approx(-1.0)
    assert weighted_kappa(score_matrix([(2, 2), (2, 2)])) == 1.0  # one grade, both raters
    with pytest.raises(ValueError, match="0-3"):
        score_matrix([(4, 0)])


def test_spearman_with_ties_by_hand() -> None:
    assert average_ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert average_ranks([3, 3, 0, 3]) == [3.0, 3.0, 1.0, 3.0]
    # Ranks (1,2,3,4) and (1,2,3.5,3.5): 4.5 / sqrt(5 * 4.5) = sqrt(0.9).
    assert spearman([0, 1, 2, 3], [0, 1, 3, 3]) == pytest.approx(math.sqrt(0.9))
    assert spearman([0, 1, 2], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([0, 1, 2], [2, 2, 2]) is None  # one side never varies
    assert spearman([1], [1]) is None
