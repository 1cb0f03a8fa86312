"""TA grades: kept as events like votes, the latest counts, and the manual annotation they
make over the students' votes; validated by the service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.annotations import current_grade, manual_annotation, tally
from bot.errors import InvalidGradeError, UnknownInteractionError
from bot.models import Interaction, Judgement, Question, TAGrade, Vote
from bot.store import SqlStore, StoreError
from tests.fakes.core import make_service

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TA = "u_0123456789abcdef0123"
InteractionFactory = Callable[..., Interaction]


def test_grades_are_kept_as_events_in_time_order(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    graded, quiet = make_interaction(), make_interaction()
    store.save_interaction(graded)
    store.save_interaction(quiet)
    first = TAGrade(graded.id, TA, "I", T0, ar_grade=1, note="Confunde U-Net com ResNet.")
    second = TAGrade(graded.id, "u_ffffffffffffffffffff", "C", T0 + timedelta(minutes=5))
    store.save_grade(second)  # stored order must not matter, time does
    store.save_grade(first)

    assert store.grades_for(graded.id) == [first, second]
    assert store.grades_for_many([graded.id, quiet.id]) == {
        graded.id: [first, second],
        quiet.id: [],
    }
    assert current_grade(store.grades_for(graded.id)) == second


def test_the_database_refuses_a_grade_out_of_range_or_on_no_interaction(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    store.save_interaction(interaction)

    with pytest.raises(StoreError, match="grade on interaction 01JNOTHERE"):
        store.save_grade(TAGrade("01JNOTHERE000000000000000", TA, "C", T0))
    with pytest.raises(StoreError, match=interaction.id):
        store.save_grade(TAGrade(interaction.id, TA, "C", T0, ar_grade=4))
    with pytest.raises(StoreError, match=interaction.id):
        store.save_grade(TAGrade(interaction.id, TA, "X", T0))  # type: ignore[arg-type]
    assert store.grades_for(interaction.id) == []


def test_restoring_a_grade_twice_writes_it_once(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    store.save_interaction(interaction)
    grade = TAGrade(interaction.id, TA, "I", T0, ar_grade=None, note="")

    assert store.restore_grade(grade) is True
    assert store.restore_grade(grade) is False
    assert store.grades_for(interaction.id) == [grade]


def test_a_ta_grade_overrides_the_votes_as_the_manual_annotation() -> None:
    votes = tally(
        [Vote("i", "ana", 1, T0), Vote("i", "bia", 1, T0), Vote("i", "ta", 1, T0, is_ta=True)]
    )
    grades = [
        TAGrade("i", TA, "I", T0 + timedelta(minutes=2)),
        TAGrade("i", TA, "C", T0 + timedelta(minutes=1)),
    ]

    assert manual_annotation(votes, None) == "C"  # the votes alone
    assert manual_annotation(votes, current_grade(grades)) == "I"  # the latest, over every vote
    assert manual_annotation(tally([]), grades[1]) == "C"
    assert manual_annotation(tally([]), current_grade([])) is None


# -- the service ------------------------------------------------------------------------------


def asked(service, course: str = "ml") -> str:  # type: ignore[no-untyped-def]
    question = Question(course_id=course, text="Qual a função da camada de saída da U-Net?")
    return asyncio.run(service.ask(question)).interaction_id


def test_the_service_keeps_a_grade_under_the_tas_pseudonym(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    interaction_id = asked(service)
    grader = service.pseudonym("slack", "U_TA_1")

    grade = asyncio.run(
        service.grade_answer("ml", interaction_id, grader, "I", ar_grade=1, note="  incompleta  ")
    )

    assert service.store.grades_for(interaction_id) == [grade]
    assert (grade.label, grade.ar_grade, grade.note) == ("I", 1, "incompleta")
    assert grade.grader_ref == grader and "U_TA_1" not in grade.grader_ref


@pytest.mark.parametrize(
    ("grader", "label", "ar_grade", "problem"),
    [
        ("U_TA_1", "C", None, "pseudonym"),  # a raw platform id
        (TA, "c", None, "'C'"),
        (TA, "", None, "'C'"),
        (TA, "C", 4, "0 to 3"),
        (TA, "C", -1, "0 to 3"),
        (TA, "C", True, "0 to 3"),
    ],
)
def test_the_service_refuses_a_bad_grade_and_keeps_nothing(
    tmp_path: Path, grader: str, label: str, ar_grade: int | None, problem: str
) -> None:
    service = make_service(tmp_path)
    interaction_id = asked(service)

    with pytest.raises(InvalidGradeError, match=problem):
        asyncio.run(service.grade_answer("ml", interaction_id, grader, label, ar_grade))
    assert service.store.grades_for(interaction_id) == []


def test_a_grade_for_another_courses_interaction_is_refused(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    interaction_id = asked(service, course="bio")

    with pytest.raises(UnknownInteractionError):
        asyncio.run(service.grade_answer("ml", interaction_id, TA, "C"))
    with pytest.raises(UnknownInteractionError):
        asyncio.run(service.grade_answer("ml", "01JNOTHERE000000000000000", TA, "C"))
    assert service.store.grades_for(interaction_id) == []


def test_the_weeks_alignment_follows_the_grades(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    interaction_id = asked(service)
    service.store.save_judgement(Judgement(interaction_id, 3, "c", "e"))
    before = asyncio.run(service.judge_alignment("ml"))

    asyncio.run(service.grade_answer("ml", interaction_id, TA, "I", ar_grade=0))
    after = asyncio.run(service.judge_alignment("ml"))

    assert (before.graded, [p.interaction_id for p in before.proposed]) == (0, [interaction_id])
    assert before.binary is None
    assert (after.graded, after.proposed) == (1, ())
    assert after.binary is not None and after.binary.confusion.ic == 1  # TA I, judge C
    assert [w.interaction_id for w in after.worst] == [interaction_id]
    earlier = asyncio.run(service.judge_alignment("ml", date.today() - timedelta(days=14)))
    assert earlier.graded == 0 and earlier.proposed == ()  # another week: none of it
