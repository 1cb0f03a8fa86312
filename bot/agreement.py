"""How well the automated judge agrees with the people: accuracy, Cohen's kappa and the
2x2 confusion matrix between manual and automated annotations ("C" / "I"). The manual
annotation is a TA's grade where there is one, else the students' votes; ``bot.alignment``
measures the judge against TA grades alone.

Pure functions. Only interactions that have both annotations count.

Kappa edge case: when both annotators used one and the same class for every item, the
chance agreement is 1 and kappa's formula divides by zero. We define kappa as 1.0 then
(the annotators agree perfectly, which is the only way both can use a single class), and
0.0 if it ever arises without perfect agreement (it cannot, but the rule is total).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.annotations import Label, automated_annotation, current_grade, manual_annotation, tally
from bot.models import Interaction, Judgement, TAGrade, Vote


@dataclass(frozen=True)
class Confusion:
    """Counts of (manual, automated) pairs: ``ci`` is manual C, automated I."""

    cc: int = 0
    ci: int = 0
    ic: int = 0
    ii: int = 0

    @property
    def total(self) -> int:
        return self.cc + self.ci + self.ic + self.ii

    def count(self, manual: Label, automated: Label) -> int:
        return int(getattr(self, f"{manual}{automated}".lower()))


@dataclass(frozen=True)
class Agreement:
    n: int
    accuracy: float
    kappa: float
    confusion: Confusion


def confusion_of(pairs: Iterable[tuple[Label, Label]]) -> Confusion:
    counts = {"cc": 0, "ci": 0, "ic": 0, "ii": 0}
    for manual, automated in pairs:
        key = f"{manual}{automated}".lower()
        if key not in counts:
            raise ValueError(f"annotations are 'C' or 'I', got ({manual!r}, {automated!r})")
        counts[key] += 1
    return Confusion(**counts)


def cohen_kappa(confusion: Confusion) -> float:
    """(p_o - p_e) / (1 - p_e); see the module docstring for the single-class case."""
    n = confusion.total
    if n == 0:
        raise ValueError("kappa needs at least one annotated pair")
    observed = (confusion.cc + confusion.ii) / n
    manual_c = (confusion.cc + confusion.ci) / n
    automated_c = (confusion.cc + confusion.ic) / n
    expected = manual_c * automated_c + (1 - manual_c) * (1 - automated_c)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def agreement(pairs: Iterable[tuple[Label | None, Label | None]]) -> Agreement | None:
    """Agreement over the pairs where both annotations exist; None when there are none."""
    both = [(m, a) for m, a in pairs if m is not None and a is not None]
    if not both:
        return None
    confusion = confusion_of(both)
    return Agreement(
        n=confusion.total,
        accuracy=(confusion.cc + confusion.ii) / confusion.total,
        kappa=cohen_kappa(confusion),
        confusion=confusion,
    )


def annotation_pairs(
    interactions: Sequence[Interaction],
    votes_by_id: Mapping[str, Sequence[Vote]],
    judgements_by_id: Mapping[str, Judgement],
    pass_score: int,
    grades_by_id: Mapping[str, Sequence[TAGrade]] | None = None,
) -> list[tuple[Label | None, Label | None]]:
    """(manual, automated) per interaction: the manual from the TA grades, else the vote
    events (``manual_annotation``); the automated from the AR judgement."""
    grades_by_id = grades_by_id or {}
    return [
        (
            manual_annotation(
                tally(votes_by_id.get(i.id, ())), current_grade(grades_by_id.get(i.id, ()))
            ),
            automated_annotation(judgements_by_id.get(i.id), pass_score),
        )
        for i in interactions
    ]
