"""The TAs hear of an outage once, not once per student: the first failure of a kind in a
course is passed on at once, the next ones of that kind are held back for a quiet period and
counted in the alert that ends it. Every failure is still kept in its row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import AskFailedError
from bot.models import Question
from bot.service import AssistantService
from bot.ta_alerts import QUIET_PERIOD, TaAlerts
from retrieval.models import SearchResult
from tests.fakes.core import FakeAnswerModel, WordOverlapRetriever, make_service

START = datetime(2026, 12, 7, 14, 2, tzinfo=UTC)
DOWN = "OSError: lancedb directory is gone"
UNET = Question(course_id="ml", text="Qual a função da camada de saída da U-Net?")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_the_first_failure_of_a_kind_is_passed_on_and_the_next_are_held_back() -> None:
    clock = Clock()
    alerts = TaAlerts(clock)

    assert alerts.pass_on("ml", "retrieval", DOWN) == DOWN
    clock.now += timedelta(minutes=3)
    assert alerts.pass_on("ml", "retrieval", DOWN) == ""
    assert alerts.pass_on("ml", "retrieval", "OSError: another message") == ""


def test_after_the_quiet_period_the_alert_says_how_many_were_held_back_and_since_when() -> None:
    clock = Clock()
    alerts = TaAlerts(clock)
    alerts.pass_on("ml", "retrieval", DOWN)
    for _ in range(3):
        alerts.pass_on("ml", "retrieval", DOWN)

    clock.now += QUIET_PERIOD
    again = alerts.pass_on("ml", "retrieval", DOWN)

    assert again == f"{DOWN} (e mais 3 falha(s) deste tipo desde o aviso das 14:02 UTC)"
    clock.now += QUIET_PERIOD  # a failure after a quiet period with none held back
    assert alerts.pass_on("ml", "retrieval", DOWN) == DOWN


def test_other_courses_and_other_kinds_of_failure_are_told_apart() -> None:
    alerts = TaAlerts(Clock())
    alerts.pass_on("ml", "retrieval", DOWN)

    assert alerts.pass_on("bio", "retrieval", DOWN) == DOWN
    assert alerts.pass_on("ml", "answer model", "529 overloaded_error") == "529 overloaded_error"


def test_nothing_to_tell_is_never_an_alert_nor_holds_one_back() -> None:
    alerts = TaAlerts(Clock())

    assert alerts.pass_on("ml", "retrieval", "") == ""
    assert alerts.pass_on("ml", "retrieval", DOWN) == DOWN


class BrokenRetriever(WordOverlapRetriever):
    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        raise OSError("lancedb directory is gone")


async def ask_failing(service: AssistantService) -> AskFailedError:
    with pytest.raises(AskFailedError) as failed:
        await service.ask(UNET)
    return failed.value


async def test_the_index_down_alerts_once_and_each_failed_question_is_still_kept(
    tmp_path: Path,
) -> None:
    clock = Clock()
    service = make_service(tmp_path, retriever=BrokenRetriever(), clock=clock)

    first, *later = [await ask_failing(service) for _ in range(4)]

    assert first.tas_alert == DOWN and not first.tas_told_lately
    assert all(f.tas_alert == "" and f.tas_told_lately for f in later)  # "the TAs know"
    for failure in (first, *later):
        kept = await service.interaction(failure.interaction_id)
        assert kept is not None and kept.error == DOWN
    clock.now += QUIET_PERIOD
    still_down = await ask_failing(service)
    assert "e mais 3 falha(s) deste tipo" in still_down.tas_alert


async def test_claude_down_alerts_on_the_first_fallback_only(tmp_path: Path) -> None:
    service = make_service(tmp_path, answer_model=FakeAnswerModel(fail=True), clock=Clock())

    first, second = await service.ask(UNET), await service.ask(UNET)

    assert first.fallback and "529 overloaded_error" in first.tas_alert
    assert second.fallback and second.tas_alert == ""
    kept = await service.interaction(second.interaction_id)
    assert kept is not None and "529 overloaded_error" in kept.error
